@testable import CaaSServer
import Foundation
import Testing

@Suite struct ResourceConcurrencyTests {
    @Test func mixedConcurrentWritersOfOneClusterAllSucceed() async throws {
        let api = try await APIHarness.make("res_mixed_writers")
        let a = try await api.makeTenant("alpha")
        let admin = a.tokens["admin"]!
        let cluster = try #require(try await api.createCluster(admin, name: "prod")["id"]?.stringValue)
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<8 {
                group.addTask { try await api.createNode(admin, cluster: cluster, name: "n\(index)").status }
                group.addTask {
                    try await api.call("PATCH", "/v1/clusters/\(cluster)", token: admin, body: #"{"labels":{"round":"\#(index)"}}"#).status
                }
                group.addTask { try await api.deploy(admin, name: "app-\(index)", cluster: cluster, source: #""image":"nginx""#).status }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses.filter { $0 == 201 }.count == 8, "\(statuses)")
        #expect(statuses.filter { $0 == 200 }.count == 8, "\(statuses)")
        #expect(statuses.filter { $0 == 202 }.count == 8, "\(statuses)")
        let read = try await api.call("GET", "/v1/clusters/\(cluster)", token: admin)
        #expect(read["version"]?.integerValue == 9)
        #expect(read["node_count"]?.integerValue == 8)
        #expect(read["application_count"]?.integerValue == 8)
    }

    @Test func concurrentIdempotentDeploysCreateOneApplication() async throws {
        let api = try await APIHarness.make("res_idempotent_deploy")
        let a = try await api.makeTenant("alpha")
        let op = a.tokens["operator"]!
        let cluster = try #require(try await api.createCluster(a.tokens["admin"]!, name: "prod")["id"]?.stringValue)
        let body = #"{"name":"web","cluster_id":"\#(cluster)","image":"nginx:1.25","replicas":2}"#
        let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
            for _ in 0..<4 {
                group.addTask { try await api.call("POST", "/v1/apps", token: op, body: body, headers: ["Idempotency-Key": "deploy-web"]) }
            }
            return try await group.reduce(into: [Reply]()) { $0.append($1) }
        }
        #expect(replies.allSatisfy { $0.status == 202 }, "\(replies.map(\.status))")
        #expect(Set(replies.compactMap { $0["id"]?.stringValue }).count == 1)
        #expect((try await api.call("GET", "/v1/apps", token: op)).items.count == 1)
        let other = try await api.call("POST", "/v1/apps", token: op, body: body.replacingOccurrences(of: "\"web\"", with: "\"web2\""),
                                       headers: ["Idempotency-Key": "deploy-web"])
        #expect(other.status == 422)
    }
}

@Suite struct ResourceSecretTests {
    @Test func secretVariablesAreSealedWhereverTheyEnterTheEnvironmentAndRefusedElsewhere() async throws {
        let api = try await APIHarness.make("res_secret_paths")
        let a = try await api.makeTenant("alpha")
        let op = a.tokens["operator"]!
        let cluster = try #require(try await api.createCluster(a.tokens["admin"]!, name: "prod")["id"]?.stringValue)
        let url = "services:\n  api:\n    image: acme/api\n    environment:\n      - DATABASE_URL=postgres://app:${DB_PASSWORD}@db/app\n"
        let deployed = try await api.deploy(op, name: "api", cluster: cluster,
                                            source: #""compose":\#(jsonString(url)),"variables":{"DB_PASSWORD":"correct-horse"}"#)
        #expect(deployed.status == 202, "\(deployed.text)")
        #expect(!deployed.text.contains("correct-horse"))
        let id = try #require(deployed["id"]?.stringValue)
        let stored = try await api.raw { try $0.query("SELECT spec::text || variables::text AS s FROM applications WHERE id = $1", [id])[0].decode("s", as: String.self) }
        #expect(!stored.contains("correct-horse"), "sealed at rest: \(stored)")
        let sealed = try #require(try ResourceValuesProbe.environmentValue(stored, name: "DATABASE_URL"))
        let secrets = try ApplicationSecrets(key: api.plane.secretsKey, tenantID: a.id, applicationID: id)
        #expect(try secrets.open(sealed, name: "DATABASE_URL") == "postgres://app:correct-horse@db/app", "the scheduler can open it")

        let command = "services:\n  api:\n    image: acme/api\n    command: [\"--password\", \"${DB_PASSWORD}\"]\n"
        let refused = try await api.deploy(op, name: "api2", cluster: cluster,
                                           source: #""compose":\#(jsonString(command)),"variables":{"DB_PASSWORD":"correct-horse"}"#)
        #expect(refused.status == 422, "\(refused.text)")
        #expect(refused.pointers == ["/variables/DB_PASSWORD"])
        #expect(!refused.text.contains("correct-horse"))
    }
}

enum ResourceValuesProbe {
    /// The stored value of an environment entry in spec JSON text.
    static func environmentValue(_ text: String, name: String) throws -> String? {
        guard let start = text.range(of: "\"name\": \"\(name)\"") ?? text.range(of: "\"name\":\"\(name)\"") else { return nil }
        let rest = text[start.upperBound...]
        guard let valueKey = rest.range(of: "\"value\": \"") ?? rest.range(of: "\"value\":\"") else { return nil }
        let after = rest[valueKey.upperBound...]
        guard let end = after.firstIndex(of: "\"") else { return nil }
        return String(after[..<end])
    }
}

@Suite struct ResourceTenantBoundaryTests {
    @Test func bodiesNamingAnotherTenantsObjectsFindNothing() async throws {
        let api = try await APIHarness.make("res_body_refs")
        let a = try await api.makeTenant("alpha")
        let b = try await api.makeTenant("beta")
        let cluster = try #require(try await api.createCluster(a.tokens["admin"]!, name: "prod")["id"]?.stringValue)
        let template = try #require(try await api.createTemplate(a.tokens["admin"]!, name: "web", compose: "services:\n  web:\n    image: nginx\n")["id"]?.stringValue)
        let ownCluster = try #require(try await api.createCluster(b.tokens["admin"]!, name: "prod")["id"]?.stringValue)
        let foreignCluster = try await api.deploy(b.tokens["admin"]!, name: "x", cluster: cluster, source: #""image":"nginx""#)
        #expect(foreignCluster.status == 404, "\(foreignCluster.text)")
        let foreignTemplate = try await api.deploy(b.tokens["admin"]!, name: "x", cluster: ownCluster, source: #""template_id":"\#(template)""#)
        #expect(foreignTemplate.status == 422, "\(foreignTemplate.text)")
        #expect(foreignTemplate["detail"]?.stringValue == "no template \(template)")
        let foreignNodes = try await api.call("GET", "/v1/nodes?cluster_id=\(cluster)", token: b.tokens["admin"])
        #expect(foreignNodes.status == 200 && foreignNodes.items.isEmpty)
        #expect((try await api.call("GET", "/v1/apps", token: b.tokens["admin"])).items.isEmpty)
        // Names are per tenant: beta may use alpha's names.
        #expect((try await api.createTemplate(b.tokens["admin"]!, name: "web", compose: "services:\n  web:\n    image: nginx\n")).status == 201)
    }
}
