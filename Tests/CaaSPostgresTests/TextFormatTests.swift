import CaaSPostgres
import Foundation
import Testing

@Suite("PostgreSQL text formats (pure)")
struct TextFormatTests {
    @Test func timestampWithOffsetsParsesToTheSameInstant() throws {
        let utc = try PostgresTextFormat.parseTimestamp("2024-03-01 12:00:00+00")
        #expect(try PostgresTextFormat.parseTimestamp("2024-03-01 17:30:00+05:30") == utc)
        #expect(try PostgresTextFormat.parseTimestamp("2024-03-01 04:00:00-08") == utc)
        #expect(try PostgresTextFormat.parseTimestamp("2024-03-01 12:53:28+00:53:28") == utc)
        #expect(utc.timeIntervalSince1970 == 1_709_294_400)
    }

    @Test func timestampKeepsMicrosecondsAndFormatsBack() throws {
        let date = try PostgresTextFormat.parseTimestamp("2001-02-03 04:05:06.000007+00")
        #expect(PostgresTextFormat.formatTimestamp(date) == "2001-02-03 04:05:06.000007+00")
        let short = try PostgresTextFormat.parseTimestamp("2001-02-03 04:05:06.5+00")
        #expect(PostgresTextFormat.formatTimestamp(short) == "2001-02-03 04:05:06.500000+00")
    }

    @Test func timestampHandlesBCInfinityDatesAndRefusesGarbage() throws {
        let bc = try PostgresTextFormat.parseTimestamp("0044-03-15 10:00:00+00 BC")
        #expect(PostgresTextFormat.formatTimestamp(bc) == "0044-03-15 10:00:00.000000+00 BC")
        #expect(try PostgresTextFormat.parseTimestamp("infinity") == .distantFuture)
        #expect(try PostgresTextFormat.parseTimestamp("-infinity") == .distantPast)
        #expect(try PostgresTextFormat.parseTimestamp("1970-01-02").timeIntervalSince1970 == 86_400)
        #expect(throws: PostgresTextFormat.Failure.self) { try PostgresTextFormat.parseTimestamp("yesterday") }
        #expect(throws: PostgresTextFormat.Failure.self) { try PostgresTextFormat.parseTimestamp("2024-13-01 00:00:00+00") }
    }

    @Test func arrayLiteralParsesQuotesEscapesNullsAndBounds() throws {
        func strings(_ text: String) throws -> [String?] {
            try PostgresTextFormat.parseArray(Array(text.utf8)).map { $0.map { String(decoding: $0, as: UTF8.self) } }
        }
        #expect(try strings("{}") == [])
        #expect(try strings("{a,b}") == ["a", "b"])
        #expect(try strings(#"{"a,b","say \"hi\"","back\\slash",NULL,"NULL",""}"#) == ["a,b", "say \"hi\"", "back\\slash", nil, "NULL", ""])
        #expect(try strings("{ x , y }") == ["x", "y"])
        #expect(try strings("[0:1]={7,8}") == ["7", "8"])
        #expect(throws: PostgresTextFormat.Failure.self) { try strings("{{1,2},{3,4}}") }
        #expect(throws: PostgresTextFormat.Failure.self) { try strings("{\"open") }
    }

    @Test func arrayFormatQuotesEveryElement() {
        #expect(PostgresTextFormat.formatArray(["a,b", nil, "q\"\\"]) == #"{"a,b",NULL,"q\"\\"}"#)
        #expect(PostgresTextFormat.formatArray([]) == "{}")
    }

    @Test func byteaParsesHexAndEscapeFormats() throws {
        #expect(PostgresTextFormat.formatBytea([0, 1, 0xff]) == "\\x0001ff")
        #expect(try PostgresTextFormat.parseBytea(Array("\\x0001ff".utf8)) == [0, 1, 0xff])
        #expect(try PostgresTextFormat.parseBytea(Array("a\\000\\\\b".utf8)) == [97, 0, 92, 98])
        #expect(throws: PostgresTextFormat.Failure.self) { try PostgresTextFormat.parseBytea(Array("\\x0".utf8)) }
    }

    @Test func doublesUsePostgresSpellingsOfSpecialValues() throws {
        #expect(PostgresTextFormat.formatDouble(.infinity) == "Infinity")
        #expect(PostgresTextFormat.formatDouble(-.infinity) == "-Infinity")
        #expect(PostgresTextFormat.formatDouble(.nan) == "NaN")
        #expect(try PostgresTextFormat.parseDouble("-Infinity") == -.infinity)
        #expect(try PostgresTextFormat.parseDouble("1e-05") == 0.00001)
    }

    @Test func retryBackoffGrowsAndStaysCapped() {
        #expect(PostgresRetry.backoff(attempt: 1, random: { $0.lowerBound }) == 0.0025)
        #expect(PostgresRetry.backoff(attempt: 3, random: { $0.upperBound }) == 0.02)
        #expect(PostgresRetry.backoff(attempt: 30, random: { $0.upperBound }) == 0.5)
    }

    @Test func migrationFileNamesAndSetsAreValidated() throws {
        #expect(Migration.parseFileName("0007_add_nodes.sql")! == (7, "add_nodes"))
        #expect(Migration.parseFileName("7_add.sql") == nil)
        #expect(Migration.parseFileName("0001_bad name.sql") == nil)
        let one = Migration(version: 1, name: "a", sql: "SELECT 1")
        let three = Migration(version: 3, name: "c", sql: "SELECT 1")
        #expect(throws: PostgresError.self) { try Migration.validate([one, three]) }
        #expect(throws: PostgresError.self) { try Migration.validate([one, Migration(version: 1, name: "b", sql: "SELECT 1")]) }
        #expect(try Migration.validate([Migration(version: 2, name: "b", sql: "x"), one]).map(\.version) == [1, 2])
    }
}
