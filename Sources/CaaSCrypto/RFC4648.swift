/// The bit packing shared by the RFC 4648 encodings (base32, base64url), without padding:
/// `bitsPerSymbol` bits of input per output symbol, symbols looked up in `alphabet`.
enum RFC4648 {
    static func encode<Bytes: Collection>(_ bytes: Bytes, alphabet: [UInt8], bitsPerSymbol: Int) -> String where Bytes.Element == UInt8 {
        let mask = UInt32(1 << bitsPerSymbol) - 1
        var out = [UInt8]()
        out.reserveCapacity((bytes.count * 8 + bitsPerSymbol - 1) / bitsPerSymbol)
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | UInt32(byte)
            bits += 8
            while bits >= bitsPerSymbol {
                out.append(alphabet[Int((buffer >> UInt32(bits - bitsPerSymbol)) & mask)])
                bits -= bitsPerSymbol
            }
            buffer &= (1 << UInt32(bits)) - 1
        }
        if bits > 0 { out.append(alphabet[Int((buffer << UInt32(bitsPerSymbol - bits)) & mask)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// `value(of:)` maps a symbol to its value, `nil` for a character outside the alphabet; the
    /// result is `nil` for such a character or for non-zero (non-canonical) trailing bits.
    static func decode(_ text: String, bitsPerSymbol: Int, value: (UInt8) -> UInt32?) -> [UInt8]? {
        var out = [UInt8]()
        var buffer: UInt32 = 0
        var bits = 0
        for symbol in text.utf8 {
            guard let value = value(symbol) else { return nil }
            buffer = (buffer << UInt32(bitsPerSymbol)) | value
            bits += bitsPerSymbol
            if bits >= 8 {
                out.append(UInt8((buffer >> UInt32(bits - 8)) & 0xff))
                bits -= 8
            }
            buffer &= (1 << UInt32(bits)) - 1
        }
        guard bits < bitsPerSymbol, buffer == 0 else { return nil }
        return out
    }
}
