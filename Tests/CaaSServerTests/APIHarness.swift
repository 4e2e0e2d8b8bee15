import CaaSHTTP
import CaaSPostgres
@testable import CaaSServer
import CaaSStore
import CaaSTestSupport
import Foundation
import Logging

/// One answer, read back.
struct Reply: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: [UInt8]

    var json: JSONValue { (try? JSONParser.parse(body)) ?? .null }
    var text: String { String(decoding: body, as: UTF8.self) }
    func header(_ name: String) -> String? { headers[name] }
    subscript(key: String) -> JSONValue? { json[key] }
}

/// A control plane on a fresh migrated database, called through its CaaSHTTP responder without a
/// socket (the same code path the server runs).
struct APIHarness: Sendable {
    let plane: ControlPlane
    let pool: PostgresPool
    let url: String
    let systemToken: String
    /// The logger handlers get with each request.
    var requestLogger = Logger(label: "test")

    /// On a fresh database of the shared test server, or on `pool` (a database the test runs itself).
    static func make(_ label: String, pool: PostgresPool? = nil, configure: (inout TenancySettings) -> Void = { _ in }) async throws -> APIHarness {
        let database: (pool: PostgresPool, url: String)
        if let pool {
            database = (pool, pool.configuration.connection.url)
        } else {
            let made = try await TestPostgres.makeDatabase(label: label)
            database = (made.pool, made.url)
        }
        try await Migrations.apply(database.pool)
        var settings = TenancySettings()
        settings.authFailureBurst = 1000
        settings.rateLimitBurst = 10_000
        settings.rateLimitPerSecond = 10_000
        let token = try TokenSecret.generate()
        settings.bootstrapToken = token
        configure(&settings)
        var logger = Logger(label: "caas.test")
        logger.logLevel = .warning
        let plane = ControlPlane(store: Store(source: database.pool), settings: settings, logger: logger)
        try await plane.bootstrap(print: { _ in })
        return APIHarness(plane: plane, pool: database.pool, url: database.url, systemToken: token)
    }

    /// Another replica: its own control plane (and event notifier) on the same database.
    func replica() -> APIHarness {
        APIHarness(plane: ControlPlane(store: Store(source: pool), settings: plane.settings, logger: plane.logger),
                   pool: pool, url: url, systemToken: systemToken, requestLogger: requestLogger)
    }

    func call(_ method: String, _ target: String, token: String?, body: String? = nil,
              headers: [String: String] = [:], from address: String = "127.0.0.1:40000") async throws -> Reply {
        var fields: [(String, String)] = headers.map { ($0.key, $0.value) }
        if let token { fields.append(("Authorization", "Bearer \(token)")) }
        if body != nil, headers["Content-Type"] == nil { fields.append(("Content-Type", "application/json")) }
        let request = HTTPRequest(method: HTTPMethod(rawValue: method), target: target, headers: HTTPHeaders(fields),
                                  body: HTTPRequestBody(bytes: Array((body ?? "").utf8)),
                                  connection: HTTPConnectionInfo(remoteAddress: address))
        let response = try await plane.makeResponder().respond(to: request, context: RequestContext(logger: requestLogger))
        return Reply(status: response.status.code, headers: response.headers, body: try await response.collectBody())
    }

    /// A tenant and a token of each role: `tokens["admin"]`, `["operator"]`, `["viewer"]`.
    func makeTenant(_ name: String) async throws -> (id: String, tokens: [String: String], tokenIDs: [String: String]) {
        let created = try await call("POST", "/v1/tenants", token: systemToken, body: #"{"name":"\#(name)"}"#)
        precondition(created.status == 201, "tenant creation failed: \(created.text)")
        let id = created["id"]!.stringValue!
        var tokens: [String: String] = [:], ids: [String: String] = [:]
        for role in ["admin", "operator", "viewer"] {
            let reply = try await call("POST", "/v1/tenants/\(id)/tokens", token: systemToken, body: #"{"name":"\#(role)-1","role":"\#(role)"}"#)
            precondition(reply.status == 201, "token creation failed: \(reply.text)")
            tokens[role] = reply["secret"]!.stringValue!
            ids[role] = reply["id"]!.stringValue!
        }
        return (id, tokens, ids)
    }
}

enum Migrations {
    static var directory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("migrations")
    }

    static func apply(_ pool: PostgresPool) async throws {
        _ = try await Migrator(pool: pool, directory: directory.path).migrate()
    }
}
