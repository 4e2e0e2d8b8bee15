import Foundation

/// RFC 3339 timestamps as the API writes and reads them (UTC, with fractional seconds on output).
public enum Timestamp {
    private static let output = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    private static let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    private static let withoutFraction = Date.ISO8601FormatStyle()

    public static func format(_ date: Date) -> String { date.formatted(output) }

    public static func parse(_ text: String) -> Date? {
        if let date = try? withFraction.parse(text) { return date }
        return try? withoutFraction.parse(text)
    }
}
