import Foundation

/// RFC 3339 timestamps as the API writes and reads them (UTC, with fractional seconds on output).
public enum Timestamp {
    private static let output = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    public static func format(_ date: Date) -> String { date.formatted(output) }

    /// Any RFC 3339 `date-time` (§5.6): `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, `T` and `Z` in
    /// either case, years 0000–9999, any offset up to ±23:59, a leap second `:60`. Foundation's
    /// ISO 8601 parser refuses some of these (early years, odd offsets), so this reads the grammar
    /// itself; the calendar is the proleptic Gregorian one RFC 3339 uses.
    public static func parse(_ text: String) -> Date? {
        let b = Array(text.utf8)
        func digits(_ at: Int, _ count: Int) -> Int? {
            guard at + count <= b.count else { return nil }
            var value = 0
            for i in at..<(at + count) {
                guard (0x30...0x39).contains(b[i]) else { return nil }
                value = value * 10 + Int(b[i] - 0x30)
            }
            return value
        }
        func byte(_ at: Int, _ expected: UInt8...) -> Bool { at < b.count && expected.contains(b[at]) }
        guard let year = digits(0, 4), byte(4, 0x2D), let month = digits(5, 2), byte(7, 0x2D), let day = digits(8, 2),
              byte(10, 0x54, 0x74), let hour = digits(11, 2), byte(13, 0x3A), let minute = digits(14, 2), byte(16, 0x3A),
              let second = digits(17, 2) else { return nil }
        var i = 19
        var fraction = 0.0
        if byte(i, 0x2E) {
            i += 1
            var scale = 0.1
            let start = i
            while i < b.count, (0x30...0x39).contains(b[i]) {
                fraction += Double(b[i] - 0x30) * scale
                scale /= 10
                i += 1
            }
            guard i > start else { return nil }
        }
        var offsetSeconds = 0
        if byte(i, 0x5A, 0x7A) {
            i += 1
        } else if byte(i, 0x2B, 0x2D) {
            let sign = b[i] == 0x2D ? -1 : 1
            guard let h = digits(i + 1, 2), byte(i + 3, 0x3A), let m = digits(i + 4, 2), h <= 23, m <= 59 else { return nil }
            offsetSeconds = sign * (h * 3600 + m * 60)
            i += 6
        } else {
            return nil
        }
        guard i == b.count, (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
              hour <= 23, minute <= 59, second <= 60 else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = Double(days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds) + fraction
        return Date(timeIntervalSince1970: seconds)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days from 1970-01-01 to the proleptic Gregorian date, counted in 400-year eras.
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let shiftedMonth = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
