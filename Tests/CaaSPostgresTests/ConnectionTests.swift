import CaaSPostgres
import CaaSTestSupport
import Foundation
import Testing

struct Spec: Codable, Equatable, Sendable {
    var name: String
    var replicas: Int
    var labels: [String: String]
}

@Suite("Typed values and rows against a real server")
struct ConnectionTests {
    @Test func selectsBoundParameterAndDecodesByNameAndIndex() async throws {
        let db = try await TestPostgres.makeDatabase(label: "conn_basic")
        let (text, number) = try await db.pool.withConnection { conn in
            let rows = try conn.query("SELECT $1::text AS greeting, $2::bigint + 1 AS n", ["hello", 41])
            return (try rows[0].decode("greeting", as: String.self), try rows[0].decode(1, as: Int.self))
        }
        #expect(text == "hello")
        #expect(number == 42)
    }

    @Test func everyTypeRoundTripsThroughATable() async throws {
        let db = try await TestPostgres.makeDatabase(label: "roundtrip")
        let when = Date(timeIntervalSince1970: 1_714_567_890.123456)
        let id = UUID()
        let spec = Spec(name: "web \"front\" ✓", replicas: 3, labels: ["tier": "edge, public"])
        let tags = ["plain", "with,comma", "with \"quotes\"", "back\\slash", "NULL", "", "ünïcødé 🚀", " spaced "]
        let counts = [Int.min, -1, 0, 1, Int.max]
        let blob: [UInt8] = [0, 1, 2, 0, 255, 92, 120]
        let text = "O'Reilly said \"hi\" — 中文 🎉\nnew line\ttab"
        try await db.pool.withConnection { conn in
            try conn.executeScript("""
                CREATE TABLE everything (
                    id uuid PRIMARY KEY, t text, i bigint, i4 integer, b boolean, d double precision,
                    at timestamptz, spec jsonb, blob bytea, tags text[], counts bigint[],
                    maybe_tags text[], nothing text
                )
                """)
            try conn.execute(
                "INSERT INTO everything VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                [id, text, Int64.max, Int32.min, true, -1.5e-300, when, PostgresJSON(spec), blob, tags, counts,
                 ["a", nil, "c"] as [String?], nil as String?]
            )
        }
        let row = try await db.pool.withConnection { try $0.query("SELECT * FROM everything WHERE id = $1", [id])[0] }
        #expect(try row.decode("id", as: UUID.self) == id)
        #expect(try row.decode("t", as: String.self) == text)
        #expect(try row.decode("i", as: Int64.self) == Int64.max)
        #expect(try row.decode("i4", as: Int32.self) == Int32.min)
        #expect(try row.decode("i4", as: Int.self) == Int(Int32.min))
        #expect(try row.decode("b", as: Bool.self) == true)
        #expect(try row.decode("d", as: Double.self) == -1.5e-300)
        let decodedWhen = try row.decode("at", as: Date.self)
        #expect(abs(decodedWhen.timeIntervalSince(when)) < 0.000_001)
        #expect(try row.decode("spec", as: PostgresJSON<Spec>.self).value == spec)
        #expect(try row.decodeJSON("spec", as: Spec.self) == spec)
        #expect(try row.decode("blob", as: [UInt8].self) == blob)
        #expect(try row.decode("tags", as: [String].self) == tags)
        #expect(try row.decode("counts", as: [Int].self) == counts)
        #expect(try row.decode("maybe_tags", as: [String?].self) == ["a", nil, "c"])
        #expect(try row.decode("nothing", as: String?.self) == nil)
        #expect(try row.isNull("nothing"))
        // Optionals decode present values too.
        #expect(try row.decode("t", as: String?.self) == text)
    }

    @Test func timestamptzIsTheSameInstantInAnySessionTimeZone() async throws {
        let db = try await TestPostgres.makeDatabase(label: "timezones")
        let when = Date(timeIntervalSince1970: 1_700_000_000.5)
        let (kolkata, text) = try await db.pool.withConnection { conn in
            try conn.setSession("TimeZone", "Asia/Kolkata")
            defer { _ = try? conn.setSession("TimeZone", "UTC") }
            let row = try conn.query("SELECT $1::timestamptz AS at, $1::timestamptz::text AS shown", [when])[0]
            return (try row.decode("at", as: Date.self), try row.decode("shown", as: String.self))
        }
        #expect(text.hasSuffix("+05:30"))
        #expect(kolkata == when)
        let nowSkew = try await db.pool.withConnection { conn in
            try conn.query("SELECT now() AS now")[0].decode("now", as: Date.self)
        }.timeIntervalSinceNow
        #expect(abs(nowSkew) < 60)
    }

    @Test func specialDoublesAndEmptyArraysRoundTrip() async throws {
        let db = try await TestPostgres.makeDatabase(label: "specials")
        let row = try await db.pool.withConnection { conn in
            try conn.query("SELECT $1::float8 AS inf, $2::float8 AS nan, $3::text[] AS empty, $4::bigint[] AS nums, $5::bytea AS nobytes",
                           [Double.infinity, Double.nan, [String](), [Int](), [UInt8]()])[0]
        }
        #expect(try row.decode("inf", as: Double.self) == .infinity)
        #expect(try row.decode("nan", as: Double.self).isNaN)
        #expect(try row.decode("empty", as: [String].self) == [])
        #expect(try row.decode("nums", as: [Int].self) == [])
        #expect(try row.decode("nobytes", as: [UInt8].self) == [])
    }

    @Test func decodingErrorsNameTheColumnAndTheProblem() async throws {
        let db = try await TestPostgres.makeDatabase(label: "decode_errors")
        let row = try await db.pool.withConnection { conn in
            try conn.query("SELECT 1::bigint AS n, NULL::text AS missing, ARRAY['a', NULL] AS tags, 'x'::text AS t")[0]
        }
        let missingColumn = #expect(throws: PostgresError.self) { try row.decode("nope", as: Int.self) }
        #expect(missingColumn?.kind == .decoding)
        #expect(missingColumn?.message.contains("\"nope\"") == true)
        let wrongType = #expect(throws: PostgresError.self) { try row.decode("n", as: Bool.self) }
        #expect(wrongType?.message.contains("int8") == true)
        let null = #expect(throws: PostgresError.self) { try row.decode("missing", as: String.self) }
        #expect(null?.message.contains("NULL") == true)
        let nullElement = #expect(throws: PostgresError.self) { try row.decode("tags", as: [String].self) }
        #expect(nullElement?.message.contains("element 2") == true)
        #expect(throws: PostgresError.self) { try row.decode(9, as: Int.self) }
        #expect(throws: PostgresError.self) { try row.decode("t", as: Int.self) }
        #expect(throws: PostgresError.self) { try row.decode("n", as: String.self) }
    }

    @Test func uniqueViolationKeepsSQLStateAndConstraintName() async throws {
        let db = try await TestPostgres.makeDatabase(label: "unique")
        try await db.pool.withConnection { conn in
            try conn.execute("CREATE TABLE apps (id text PRIMARY KEY, name text NOT NULL, CONSTRAINT apps_name_key UNIQUE (name))")
            try conn.execute("INSERT INTO apps VALUES ($1, $2)", ["app_1", "web"])
        }
        let error = await #expect(throws: PostgresError.self) {
            try await db.pool.withConnection { try $0.execute("INSERT INTO apps VALUES ($1, $2)", ["app_2", "web"]) }
        }
        #expect(error?.kind == .server)
        #expect(error?.sqlState == "23505")
        #expect(error?.isUniqueViolation == true)
        #expect(error?.constraintName == "apps_name_key")
        #expect(error?.tableName == "apps")
        #expect(error?.severity == "ERROR")
        #expect(error?.detail?.contains("(name)=(web)") == true)
        // The connection is still usable after a server error.
        let count = try await db.pool.withConnection { try $0.query("SELECT count(*) AS n FROM apps")[0].decode("n", as: Int.self) }
        #expect(count == 1)
    }

    @Test func syntaxErrorsCarryPositionAndHint() async throws {
        let db = try await TestPostgres.makeDatabase(label: "syntax")
        let error = await #expect(throws: PostgresError.self) {
            try await db.pool.withConnection { try $0.query("SELECT * FROM no_such_table") }
        }
        #expect(error?.sqlState == "42P01")
        #expect(error?.fields.statementPosition == 15)
        #expect(error?.query == "SELECT * FROM no_such_table")
        #expect(error?.description.contains("SQLSTATE 42P01") == true)
    }

    @Test func valuesNeverBecomeSQL() async throws {
        let db = try await TestPostgres.makeDatabase(label: "injection")
        let hostile = "x'); DROP TABLE victims; --"
        let stored = try await db.pool.withConnection { conn in
            try conn.execute("CREATE TABLE victims (name text)")
            try conn.execute("INSERT INTO victims VALUES ($1)", [hostile])
            return try conn.query("SELECT name FROM victims")[0].decode("name", as: String.self)
        }
        #expect(stored == hostile)
        let nul = await #expect(throws: PostgresError.self) {
            try await db.pool.withConnection { try $0.query("SELECT $1::text", ["a\u{0}b"]) }
        }
        #expect(nul?.kind == .encoding)
    }

    @Test func setLocalIsScopedToTheTransaction() async throws {
        let db = try await TestPostgres.makeDatabase(label: "set_local")
        let inside = try await db.pool.transaction { conn in
            try conn.execute("SELECT set_config('caas.tenant_id', $1, true)", ["ten_42"])
            return try conn.query("SELECT current_setting('caas.tenant_id') AS t")[0].decode("t", as: String.self)
        }
        #expect(inside == "ten_42")
        let after = try await db.pool.withConnection { conn in
            try conn.query("SELECT current_setting('caas.tenant_id', true) AS t")[0].decode("t", as: String?.self)
        }
        #expect(after == nil || after == "")
        let affected = try await db.pool.withConnection { conn -> Int in
            try conn.execute("CREATE TABLE t (n int)")
            return try conn.execute("INSERT INTO t SELECT generate_series(1, $1)", [5])
        }
        #expect(affected == 5)
    }
}

@Suite("Prepared statements kept per session")
struct PreparedStatementTests {
    /// The session's prepared statements, as the server lists them.
    func serverStatements(_ conn: PostgresConnection) throws -> [String] {
        try conn.query("SELECT statement FROM pg_prepared_statements WHERE name LIKE $1 ORDER BY prepare_time", ["caas\\_%"])
            .map { try $0.decode("statement", as: String.self) }
    }

    @Test func aStatementIsPreparedOnceAndReusedWithOtherValues() async throws {
        let db = try await TestPostgres.makeDatabase(label: "prep_reuse")
        try await db.pool.withConnection { conn throws in
            for n in 1...5 {
                #expect(try conn.query("SELECT $1::int8 * 2 AS doubled", [n])[0].decode("doubled", as: Int.self) == n * 2)
            }
            let listed = try serverStatements(conn).filter { $0.contains("doubled") }
            #expect(listed.count == 1, "one prepared statement for five executions: \(listed)")
            // The same text with another parameter type is another statement.
            #expect(try conn.query("SELECT $1::int8 * 2 AS doubled", ["7"])[0].decode("doubled", as: Int.self) == 14)
            #expect(try serverStatements(conn).filter { $0.contains("doubled") }.count == 2)
        }
    }

    @Test func theLeastRecentlyUsedStatementIsDeallocatedAtTheLimit() async throws {
        let db = try await TestPostgres.makeDatabase(label: "prep_limit")
        try await db.pool.withConnection { conn throws in
            conn.preparedStatementLimit = 3
            for n in 1...3 { _ = try conn.query("SELECT $1::int8 + \(n) AS s\(n)", [0]) }
            _ = try conn.query("SELECT $1::int8 + 1 AS s1", [0]) // s1 is now the most recent
            _ = try conn.query("SELECT $1::int8 + 4 AS s4", [0]) // evicts s2
            #expect(conn.preparedStatementCount == 3)
            // The listing query is itself prepared (and evicts s3): list after reading the count.
            let listed = try serverStatements(conn).joined(separator: " | ")
            #expect(listed.contains("AS s1") && listed.contains("AS s4"))
            #expect(!listed.contains("AS s2"), "\(listed)")
            #expect(try conn.query("SELECT $1::int8 + 2 AS s2", [40])[0].decode("s2", as: Int.self) == 42, "an evicted statement is prepared again")
        }
    }

    @Test func aSchemaChangeUnderAPreparedStatementIsRecoveredOutsideATransaction() async throws {
        let db = try await TestPostgres.makeDatabase(label: "prep_schema")
        try await db.pool.withConnection { conn throws in
            try conn.executeScript("CREATE TABLE widgets (id int8 PRIMARY KEY, name text); INSERT INTO widgets VALUES (1, 'a')")
            #expect(try conn.query("SELECT * FROM widgets WHERE id = $1", [1]).columns.count == 2)
            try conn.executeScript("ALTER TABLE widgets ADD COLUMN colour text")
            // The cached plan's result type changed: prepared again, transparently.
            #expect(try conn.query("SELECT * FROM widgets WHERE id = $1", [1]).columns.map(\.name) == ["id", "name", "colour"])
            // Inside a transaction the error surfaces (the transaction is lost), and the next one works.
            try conn.executeScript("ALTER TABLE widgets DROP COLUMN colour")
            #expect(throws: PostgresError.self) {
                try conn.transaction { try $0.query("SELECT * FROM widgets WHERE id = $1", [1]) }
            }
            #expect(try conn.transaction { try $0.query("SELECT * FROM widgets WHERE id = $1", [1]) }.columns.count == 2)
        }
    }

    @Test func statementsFailingToPrepareLeaveNothingBehindAndTheSessionUsable() async throws {
        let db = try await TestPostgres.makeDatabase(label: "prep_fail")
        try await db.pool.withConnection { conn throws in
            let before = conn.preparedStatementCount
            #expect(throws: PostgresError.self) { try conn.query("SELEC $1::int8", [1]) }
            #expect(conn.preparedStatementCount == before)
            #expect(try conn.query("SELECT $1::int8 AS one", [1])[0].decode("one", as: Int.self) == 1)
        }
    }
}
