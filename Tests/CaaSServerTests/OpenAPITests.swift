@testable import CaaSServer
import CaaSHTTP
import CaaSPostgres
import CaaSStore
import Foundation
import Logging
import Testing
import Yams

/// openapi.yaml and the router describe the same API: every route is documented and every
/// documented operation is served; operation ids are the routes' audit actions; query
/// parameters and request bodies agree.
@Suite struct OpenAPITests {
    struct Operation: Hashable {
        var method: String
        var path: String
    }

    static func document() throws -> [String: Any] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("openapi.yaml")
        let text = try String(contentsOf: url, encoding: .utf8)
        return try #require(try Yams.load(yaml: text) as? [String: Any])
    }

    struct NoDatabase: ConnectionSource {
        func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
            throw PostgresError(kind: .connection, message: "no database in this test")
        }
    }

    // With the agent channel's routes, as caas-server wires them.
    static let plane = ControlPlane(store: Store(source: NoDatabase()), settings: TenancySettings(),
                                    additionalRoutes: AgentChannelRoutes.all(nil), logger: Logger(label: "test"))

    /// The routes the CaaSHTTP router serves (without the OPTIONS preflight entries).
    static func served() -> Set<Operation> {
        Set(plane.makeRouter().routes.filter { $0.method != .options }.map { Operation(method: $0.method.rawValue, path: $0.path) })
    }

    static func routes() -> [APIRoute] { plane.routes }

    @Test func everyRouteIsDocumentedAndEveryDocumentedOperationIsServed() throws {
        let document = try Self.document()
        #expect((document["openapi"] as? String)?.hasPrefix("3.1") == true)
        let paths = try #require(document["paths"] as? [String: Any])
        var documented: [Operation: [String: Any]] = [:]
        for (path, item) in paths {
            guard let item = item as? [String: Any] else { continue }
            for (method, operation) in item where ["get", "post", "put", "patch", "delete"].contains(method) {
                documented[Operation(method: method.uppercased(), path: path)] = operation as? [String: Any] ?? [:]
            }
        }
        var served = Self.served()
        #expect(served == Set(Self.routes().map { Operation(method: $0.method, path: $0.path) }))
        for route in ControlPlane.externalRoutes { served.insert(Operation(method: route.method, path: route.path)) }
        let undocumented = served.subtracting(documented.keys)
        let unserved = Set(documented.keys).subtracting(served)
        #expect(undocumented.isEmpty, "routes missing from openapi.yaml: \(undocumented)")
        #expect(unserved.isEmpty, "openapi.yaml operations no route serves: \(unserved)")

        for route in Self.routes() {
            guard let operation = documented[Operation(method: route.method, path: route.path)] else { continue }
            #expect(operation["operationId"] as? String == route.action, "\(route.method) \(route.path)")
            let parameters = Self.parameterNames(operation, pathItem: paths[route.path] as? [String: Any], document: document)
            for name in route.queryParameters {
                #expect(parameters.contains(name), "\(route.method) \(route.path): query parameter \(name) is not documented")
            }
            for name in route.parameterNames {
                #expect(parameters.contains(name), "\(route.method) \(route.path): path parameter \(name) is not documented")
            }
            if route.method == "POST" {
                #expect(parameters.contains("Idempotency-Key"), "\(route.method) \(route.path) should document Idempotency-Key")
            }
            if ["POST", "PATCH", "PUT"].contains(route.method) {
                #expect(operation["requestBody"] != nil, "\(route.method) \(route.path) has no requestBody schema")
            }
        }
    }

    static func parameterNames(_ operation: [String: Any], pathItem: [String: Any]?, document: [String: Any]) -> Set<String> {
        var names = Set<String>()
        let lists = [operation["parameters"], pathItem?["parameters"]].compactMap { $0 as? [Any] }
        for parameter in lists.flatMap({ $0 }) {
            guard var object = parameter as? [String: Any] else { continue }
            if let ref = object["$ref"] as? String {
                let key = String(ref.split(separator: "/").last ?? "")
                let components = (document["components"] as? [String: Any])?["parameters"] as? [String: Any]
                object = components?[key] as? [String: Any] ?? [:]
            }
            if let name = object["name"] as? String { names.insert(name) }
        }
        return names
    }

    @Test func theNamePatternIsTheOneTheServerEnforces() throws {
        let document = try Self.document()
        let schemas = ((document["components"] as? [String: Any])?["schemas"] as? [String: Any])
        let name = schemas?["Name"] as? [String: Any]
        #expect(name?["pattern"] as? String == ResourceName.pattern)
        #expect(name?["maxLength"] as? Int == ResourceName.maximumLength)
    }
}
