import Foundation

/// Pure conversions between Swift values and PostgreSQL's text representations: timestamps,
/// `bytea` (hex and escape formats), array literals and floats. No I/O; tested on strings.
public enum PostgresTextFormat {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    // MARK: Timestamps

    /// Microseconds between 1970-01-01 and 2001-01-01 (Foundation's reference date).
    static let referenceDateOffsetMicros: Int64 = 978_307_200_000_000

    /// Formats a date as a `timestamptz` literal in UTC with microseconds, e.g.
    /// `2024-05-01 12:00:00.123456+00` (years ≤ 0 get PostgreSQL's ` BC` suffix).
    public static func formatTimestamp(_ date: Date) -> String {
        if date == .distantFuture { return "infinity" }
        if date == .distantPast { return "-infinity" }
        let micros = Int64((date.timeIntervalSinceReferenceDate * 1_000_000).rounded()) + referenceDateOffsetMicros
        let microsPerDay: Int64 = 86_400_000_000
        var days = micros / microsPerDay
        var timeOfDay = micros % microsPerDay
        if timeOfDay < 0 { timeOfDay += microsPerDay; days -= 1 }
        let (year, month, day) = civilFromDays(days)
        let seconds = timeOfDay / 1_000_000
        let fraction = timeOfDay % 1_000_000
        let bc = year <= 0
        let displayYear = bc ? 1 - year : year
        var text = pad(displayYear, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + " "
        text += pad(seconds / 3600, 2) + ":" + pad(seconds / 60 % 60, 2) + ":" + pad(seconds % 60, 2)
        text += "." + pad(fraction, 6) + "+00"
        if bc { text += " BC" }
        return text
    }

    /// Parses PostgreSQL's ISO output of `timestamptz`, `timestamp` (taken as UTC) and `date`
    /// (midnight UTC): `YYYY-MM-DD[ HH:MM:SS[.ffffff]][±HH[:MM[:SS]]][ BC]`, `infinity`, `-infinity`.
    public static func parseTimestamp(_ text: String) throws -> Date {
        switch text {
        case "infinity": return .distantFuture
        case "-infinity": return .distantPast
        default: break
        }
        var scanner = Scanner(Array(text.utf8))
        func fail(_ why: String) -> Failure { Failure("invalid timestamp '\(text)': \(why)") }
        guard var year = scanner.integer(), scanner.consume(UInt8(ascii: "-")),
              let month = scanner.integer(), scanner.consume(UInt8(ascii: "-")),
              let day = scanner.integer()
        else { throw fail("expected YYYY-MM-DD") }
        var micros: Int64 = 0
        var offsetSeconds: Int64 = 0
        if scanner.consume(UInt8(ascii: " ")) || scanner.consume(UInt8(ascii: "T")) {
            if scanner.peek.map(isDigit) == true {
                guard let hour = scanner.integer(), scanner.consume(UInt8(ascii: ":")),
                      let minute = scanner.integer(), scanner.consume(UInt8(ascii: ":")),
                      let second = scanner.integer()
                else { throw fail("expected HH:MM:SS") }
                var fraction: Int64 = 0
                if scanner.consume(UInt8(ascii: ".")) {
                    var digits = 0
                    while let byte = scanner.peek, isDigit(byte) {
                        if digits < 6 { fraction = fraction * 10 + Int64(byte - 48) }
                        digits += 1
                        scanner.advance()
                    }
                    if digits == 0 { throw fail("empty fraction") }
                    if digits < 6 { for _ in digits..<6 { fraction *= 10 } }
                }
                guard hour <= 24, minute < 60, second <= 60 else { throw fail("time out of range") }
                micros = ((hour * 60 + minute) * 60 + second) * 1_000_000 + fraction
            } else {
                scanner.back() // the space before "BC"
            }
            if let sign = scanner.peek, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                scanner.advance()
                guard let hours = scanner.integer() else { throw fail("bad UTC offset") }
                var offset = hours * 3600
                if scanner.consume(UInt8(ascii: ":")) {
                    guard let minutes = scanner.integer() else { throw fail("bad UTC offset") }
                    offset += minutes * 60
                    if scanner.consume(UInt8(ascii: ":")) {
                        guard let seconds = scanner.integer() else { throw fail("bad UTC offset") }
                        offset += seconds
                    }
                }
                offsetSeconds = sign == UInt8(ascii: "-") ? -offset : offset
            }
        }
        if scanner.consumeLiteral(" BC") { year = 1 - year }
        guard scanner.atEnd else { throw fail("unexpected trailing text") }
        guard (1...12).contains(month), (1...31).contains(day) else { throw fail("date out of range") }
        let days = daysFromCivil(year: year, month: month, day: day)
        let utcMicros = days * 86_400_000_000 + micros - offsetSeconds * 1_000_000
        return Date(timeIntervalSinceReferenceDate: Double(utcMicros - referenceDateOffsetMicros) / 1_000_000)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (astronomical year numbering).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let shiftedMonth = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The inverse of `daysFromCivil`.
    static func civilFromDays(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    // MARK: bytea

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// `bytea` hex input format: `\x0102ff`.
    public static func formatBytea(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity(2 + bytes.count * 2)
        out.append(UInt8(ascii: "\\"))
        out.append(UInt8(ascii: "x"))
        for byte in bytes {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses `bytea` output in hex (`\x…`) or the legacy escape format (`\\`, `\ooo`).
    public static func parseBytea(_ text: some Collection<UInt8>) throws -> [UInt8] {
        let bytes = Array(text)
        if bytes.count >= 2, bytes[0] == UInt8(ascii: "\\"), bytes[1] == UInt8(ascii: "x") {
            guard bytes.count % 2 == 0 else { throw Failure("invalid bytea hex: odd number of digits") }
            var out = [UInt8]()
            out.reserveCapacity((bytes.count - 2) / 2)
            var index = 2
            while index < bytes.count {
                guard let high = hexValue(bytes[index]), let low = hexValue(bytes[index + 1]) else {
                    throw Failure("invalid bytea hex digit")
                }
                out.append(high << 4 | low)
                index += 2
            }
            return out
        }
        var out = [UInt8]()
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte != UInt8(ascii: "\\") {
                out.append(byte)
                index += 1
            } else if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\\") {
                out.append(byte)
                index += 2
            } else if index + 3 < bytes.count,
                      let a = octalValue(bytes[index + 1]), let b = octalValue(bytes[index + 2]),
                      let c = octalValue(bytes[index + 3]), a <= 3 {
                out.append(a << 6 | b << 3 | c)
                index += 4
            } else {
                throw Failure("invalid bytea escape sequence")
            }
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    private static func octalValue(_ byte: UInt8) -> UInt8? {
        (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(byte) ? byte - UInt8(ascii: "0") : nil
    }

    // MARK: Arrays

    /// A one-dimensional array literal; every element is double-quoted with `\` and `"` escaped,
    /// nil elements become `NULL`. Example: `["a,b", nil, "say \"hi\""]` →
    /// `{"a,b",NULL,"say \"hi\""}`.
    public static func formatArray(_ elements: [String?]) -> String {
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        bytes.reserveCapacity(elements.reduce(2) { $0 + ($1?.utf8.count ?? 4) + 3 })
        for (index, element) in elements.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            guard let element else {
                bytes += "NULL".utf8
                continue
            }
            bytes.append(quote)
            for byte in element.utf8 {
                if byte == backslash || byte == quote { bytes.append(backslash) }
                bytes.append(byte)
            }
            bytes.append(quote)
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Parses a one-dimensional array literal as PostgreSQL prints it (`array_out`): elements
    /// quoted or not, backslash escapes, unquoted `NULL` as nil, optional `[lo:hi]=` bounds.
    /// Multi-dimensional arrays are refused.
    public static func parseArray(_ text: some Collection<UInt8>, delimiter: UInt8 = UInt8(ascii: ",")) throws -> [[UInt8]?] {
        let bytes = Array(text)
        var index = 0
        func fail(_ why: String) -> Failure {
            Failure("invalid array literal '\(String(decoding: bytes.prefix(200), as: UTF8.self))': \(why)")
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "[") {
            // Dimension decoration, e.g. "[0:2]={1,2,3}".
            guard let equals = bytes.firstIndex(of: UInt8(ascii: "=")) else { throw fail("bad dimensions") }
            if bytes[..<equals].filter({ $0 == UInt8(ascii: "[") }).count > 1 {
                throw fail("multi-dimensional arrays are not supported")
            }
            index = equals + 1
        }
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { throw fail("expected '{'") }
        index += 1
        var elements: [[UInt8]?] = []
        func isSpace(_ byte: UInt8) -> Bool {
            byte == 32 || byte == 9 || byte == 10 || byte == 13 || byte == 11 || byte == 12
        }
        func skipSpaces() { while index < bytes.count, isSpace(bytes[index]) { index += 1 } }
        skipSpaces()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            skipSpaces()
            guard index == bytes.count else { throw fail("trailing text") }
            return []
        }
        while true {
            skipSpaces()
            guard index < bytes.count else { throw fail("unterminated") }
            if bytes[index] == UInt8(ascii: "{") { throw fail("multi-dimensional arrays are not supported") }
            var element: [UInt8] = []
            if bytes[index] == UInt8(ascii: "\"") {
                index += 1
                var closed = false
                while index < bytes.count {
                    let byte = bytes[index]
                    if byte == UInt8(ascii: "\\") {
                        guard index + 1 < bytes.count else { throw fail("dangling escape") }
                        element.append(bytes[index + 1])
                        index += 2
                    } else if byte == UInt8(ascii: "\"") {
                        index += 1
                        closed = true
                        break
                    } else {
                        element.append(byte)
                        index += 1
                    }
                }
                guard closed else { throw fail("unterminated quoted element") }
                elements.append(element)
                skipSpaces()
            } else {
                var sawEscape = false
                var trailingSpaces = 0
                while index < bytes.count {
                    let byte = bytes[index]
                    if byte == delimiter || byte == UInt8(ascii: "}") { break }
                    if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "{") { throw fail("unexpected character") }
                    if byte == UInt8(ascii: "\\") {
                        guard index + 1 < bytes.count else { throw fail("dangling escape") }
                        element.append(bytes[index + 1])
                        sawEscape = true
                        trailingSpaces = 0
                        index += 2
                        continue
                    }
                    element.append(byte)
                    trailingSpaces = isSpace(byte) ? trailingSpaces + 1 : 0
                    index += 1
                }
                element.removeLast(trailingSpaces)
                if element.isEmpty { throw fail("empty unquoted element") }
                let isNull = !sawEscape && element.count == 4
                    && String(decoding: element, as: UTF8.self).uppercased() == "NULL"
                elements.append(isNull ? nil : element)
            }
            guard index < bytes.count else { throw fail("unterminated") }
            if bytes[index] == delimiter {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "}") else { throw fail("expected ',' or '}'") }
            index += 1
            skipSpaces()
            guard index == bytes.count else { throw fail("trailing text") }
            return elements
        }
    }

    // MARK: Floats

    /// `float8` input text: shortest round-trip digits, `NaN`, `Infinity`, `-Infinity`.
    public static func formatDouble(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
        return "\(value)"
    }

    public static func parseDouble(_ text: String) throws -> Double {
        switch text {
        case "NaN": return .nan
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        default:
            guard let value = Double(text) else { throw Failure("invalid floating-point number '\(text)'") }
            return value
        }
    }
}

/// A cursor over ASCII bytes for the small parsers above.
private struct Scanner {
    let bytes: [UInt8]
    var index = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { index >= bytes.count }
    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }
    mutating func advance() { index += 1 }
    mutating func back() { index -= 1 }

    mutating func consume(_ byte: UInt8) -> Bool {
        guard peek == byte else { return false }
        index += 1
        return true
    }

    mutating func consumeLiteral(_ literal: String) -> Bool {
        let expected = Array(literal.utf8)
        guard bytes.count - index >= expected.count, Array(bytes[index..<index + expected.count]) == expected else {
            return false
        }
        index += expected.count
        return true
    }

    /// An unsigned decimal integer of at most 18 digits.
    mutating func integer() -> Int64? {
        var value: Int64 = 0
        var digits = 0
        while let byte = peek, isDigit(byte), digits < 18 {
            value = value * 10 + Int64(byte - 48)
            digits += 1
            index += 1
        }
        return digits > 0 ? value : nil
    }
}

private func isDigit(_ byte: UInt8) -> Bool { byte >= 48 && byte <= 57 }
