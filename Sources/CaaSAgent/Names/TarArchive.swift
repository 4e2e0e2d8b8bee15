/// A ustar archive of regular files, in memory: what the engine takes to import an image
/// (`POST /images/create?fromSrc=-`) and to put files into a container (`PUT …/archive`).
public enum TarArchive {
    public struct File: Sendable {
        public var path: String
        public var mode: Int
        public var contents: [UInt8]

        public init(path: String, mode: Int = 0o644, contents: [UInt8]) {
            self.path = path
            self.mode = mode
            self.contents = contents
        }
    }

    /// Paths are at most 100 bytes (no prefix field is used).
    public static func archive(_ files: [File], modifiedAt seconds: Int = 0) -> [UInt8] {
        var out: [UInt8] = []
        for file in files {
            var header = [UInt8](repeating: 0, count: 512)
            func put(_ text: String, at offset: Int, width: Int) {
                for (index, byte) in text.utf8.prefix(width).enumerated() { header[offset + index] = byte }
            }
            func octal(_ value: Int, at offset: Int, width: Int) {
                let digits = String(value, radix: 8)
                put(String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits, at: offset, width: width - 1)
            }
            put(file.path, at: 0, width: 100)
            octal(file.mode, at: 100, width: 8)
            octal(0, at: 108, width: 8)
            octal(0, at: 116, width: 8)
            octal(file.contents.count, at: 124, width: 12)
            octal(seconds, at: 136, width: 12)
            header[156] = UInt8(ascii: "0")
            put("ustar", at: 257, width: 6)
            put("00", at: 263, width: 2)
            put("root", at: 265, width: 32)
            put("root", at: 297, width: 32)
            // The checksum counts its own field as spaces.
            for index in 148..<156 { header[index] = 0x20 }
            let sum = header.reduce(0) { $0 + Int($1) }
            let digits = String(sum, radix: 8)
            put(String(repeating: "0", count: max(0, 6 - digits.count)) + digits, at: 148, width: 6)
            header[154] = 0
            header[155] = 0x20
            out += header
            out += file.contents
            out += [UInt8](repeating: 0, count: (512 - file.contents.count % 512) % 512)
        }
        out += [UInt8](repeating: 0, count: 1024)
        return out
    }
}
