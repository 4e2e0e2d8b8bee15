/// Lower-case RFC 4648 base32 without padding (`a–z2–7`): token secrets stay one word in a shell.
public enum Base32 {
    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)

    public static func encode<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        RFC4648.encode(bytes, alphabet: alphabet, bitsPerSymbol: 5)
    }

    /// Decodes unpadded base32 (either case); `nil` on any other character or trailing garbage bits.
    public static func decode(_ text: String) -> [UInt8]? {
        RFC4648.decode(text, bitsPerSymbol: 5) { c in
            switch c {
            case UInt8(ascii: "a")...UInt8(ascii: "z"): UInt32(c - UInt8(ascii: "a"))
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): UInt32(c - UInt8(ascii: "A"))
            case UInt8(ascii: "2")...UInt8(ascii: "7"): UInt32(c - UInt8(ascii: "2") + 26)
            default: nil
            }
        }
    }
}
