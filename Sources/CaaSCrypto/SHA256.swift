import COpenSSL

/// SHA-256 through OpenSSL's one-shot digest.
public enum SHA256 {
    public static let byteCount = 32

    public static func hash<Bytes: Collection>(_ input: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        let data = Array(input)
        var out = [UInt8](repeating: 0, count: byteCount)
        data.withUnsafeBufferPointer { inputBuffer in
            out.withUnsafeMutableBufferPointer { outBuffer in
                // SHA256 never fails for in-memory input; it returns its output pointer.
                _ = COpenSSL.SHA256(inputBuffer.baseAddress, inputBuffer.count, outBuffer.baseAddress)
            }
        }
        return out
    }

    public static func hash(_ text: String) -> [UInt8] { hash(Array(text.utf8)) }

    /// Lower-case hexadecimal of the digest.
    public static func hex<Bytes: Collection>(_ input: Bytes) -> String where Bytes.Element == UInt8 {
        Hex.encode(hash(input))
    }
}

public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func encode<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(chars.count / 2)
        var index = 0
        while index < chars.count {
            guard let high = value(chars[index]), let low = value(chars[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }
}
