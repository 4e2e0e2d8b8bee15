import CaaSPostgres
import CaaSTestSupport
import Foundation
import Testing

@Suite("PostgresConnection against a real server")
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
}
