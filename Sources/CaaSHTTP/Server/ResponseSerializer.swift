/// Writes response heads into a byte buffer without intermediate strings.
enum ResponseSerializer {
    /// Appends the status line, the handler's headers (minus framing fields the server owns, and
    /// any field whose name or value could split the response), `Date`, framing and `Connection`.
    static func head(status: HTTPStatus, headers: HTTPHeaders, date: [UInt8], contentLength: Int?, chunked: Bool,
                     keepAlive: Bool, requestVersion: HTTPVersion, into buffer: inout [UInt8]) {
        append("HTTP/1.1 ", to: &buffer)
        appendDecimal(status.code, to: &buffer)
        buffer.append(0x20)
        buffer.append(contentsOf: status.reasonPhrase.utf8)
        buffer.append(13); buffer.append(10)
        var hasDate = false
        for field in headers {
            let name = field.name
            switch name.utf8.count {
            case 14 where HTTPHeaders.namesEqual(name, "Content-Length"): continue
            case 17 where HTTPHeaders.namesEqual(name, "Transfer-Encoding"): continue
            case 10 where HTTPHeaders.namesEqual(name, "Connection"): continue
            case 4 where HTTPHeaders.namesEqual(name, "Date"): hasDate = true
            default: break
            }
            guard isSafeName(name), isSafeValue(field.value) else { continue }
            buffer.append(contentsOf: name.utf8)
            buffer.append(0x3A); buffer.append(0x20)
            buffer.append(contentsOf: field.value.utf8)
            buffer.append(13); buffer.append(10)
        }
        if !hasDate {
            append("Date: ", to: &buffer)
            buffer.append(contentsOf: date)
            buffer.append(13); buffer.append(10)
        }
        if let contentLength {
            append("Content-Length: ", to: &buffer)
            appendDecimal(contentLength, to: &buffer)
            buffer.append(13); buffer.append(10)
        } else if chunked {
            append("Transfer-Encoding: chunked\r\n", to: &buffer)
        }
        if !keepAlive {
            append("Connection: close\r\n", to: &buffer)
        } else if requestVersion.minor == 0 {
            append("Connection: keep-alive\r\n", to: &buffer)
        }
        buffer.append(13); buffer.append(10)
    }

    @inline(__always)
    static func append(_ text: StaticString, to buffer: inout [UInt8]) {
        buffer.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    static func appendDecimal(_ value: Int, to buffer: inout [UInt8]) {
        if value < 10 {
            buffer.append(UInt8(truncatingIfNeeded: 0x30 + value))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)   // up to 24 digits, stack only
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { raw in
            while rest > 0 {
                raw[count] = UInt8(truncatingIfNeeded: 0x30 + rest % 10)
                rest /= 10
                count += 1
            }
            for i in stride(from: count - 1, through: 0, by: -1) { buffer.append(raw[i]) }
        }
    }

    static func appendHex(_ value: Int, to buffer: inout [UInt8]) {
        let hex: StaticString = "0123456789abcdef"
        var shift = (Int.bitWidth - value.leadingZeroBitCount + 3) / 4 * 4 - 4
        if shift < 0 { shift = 0 }
        while shift >= 0 {
            buffer.append(hex.utf8Start[(value >> shift) & 0xF])
            shift -= 4
        }
    }

    private static func isSafeName(_ name: String) -> Bool {
        if name.isEmpty { return false }
        for byte in name.utf8 where !isTokenByte(byte) { return false }
        return true
    }

    private static func isSafeValue(_ value: String) -> Bool {
        for byte in value.utf8 where (byte < 0x20 && byte != 0x09) || byte == 0x7F { return false }
        return true
    }
}
