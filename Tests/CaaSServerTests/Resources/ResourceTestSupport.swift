import CaaSModel
import CaaSPostgres
@testable import CaaSServer
import CaaSStore
import Foundation
import Testing

/// The talk's compose templates (../shared/compose/, copied into the compose tests' fixtures).
enum TalkTemplates {
    static var directory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("CaaSComposeTests/Fixtures")
    }

    static func text(_ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }
}

/// JSON text of a value, for request bodies built from variables.
func jsonText(_ value: JSONValue) -> String { value.serialized }

func jsonString(_ text: String) -> String { JSONValue.string(text).serialized }

extension Reply {
    var items: [JSONValue] {
        if case .array(let items)? = json["items"] { return items }
        return []
    }

    /// The `errors[]` member of a problem.
    var problemErrors: [JSONValue] {
        if case .array(let items)? = json["errors"] { return items }
        return []
    }

    var problemType: String? { json["type"]?.stringValue }

    /// The JSON pointers a problem names.
    var pointers: [String] { problemErrors.compactMap { $0["pointer"]?.stringValue } }
}

extension APIHarness {
    func createCluster(_ token: String, name: String, extra: String = "") async throws -> Reply {
        try await call("POST", "/v1/clusters", token: token, body: #"{"name":"\#(name)"\#(extra)}"#)
    }

    func createNode(_ token: String, cluster: String, name: String, labels: String = "{}") async throws -> Reply {
        try await call("POST", "/v1/clusters/\(cluster)/nodes", token: token, body: """
            {"name":"\(name)","engine_endpoint":"unix:///run/caas-test/\(name).sock","labels":\(labels),
             "capacity":{"cpus":2,"memory_bytes":4294967296}}
            """)
    }

    func createTemplate(_ token: String, name: String, compose: String) async throws -> Reply {
        try await call("POST", "/v1/templates", token: token, body: #"{"name":"\#(name)","compose":\#(jsonString(compose))}"#)
    }

    func deploy(_ token: String, name: String, cluster: String, source: String) async throws -> Reply {
        try await call("POST", "/v1/apps", token: token, body: #"{"name":"\#(name)","cluster_id":"\#(cluster)",\#(source)}"#)
    }

    /// An agent's report of `containers` in `cluster`, applied as `POST /v1/agent/reports` applies it.
    func agentReport(cluster: String, _ containers: [ContainerObservation]) async throws -> ReportOutcome {
        let report = AgentReport(clusterId: cluster, sequence: 1, appliedGeneration: 0, sentAt: Date(), containers: containers, nodes: [])
        return try await plane.store.systemTransaction { try $0.applyReport(report, clusterID: cluster) }
    }

    /// Runs raw SQL as the database owner (bypasses row-level security): what is really stored.
    func raw<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await pool.withConnection(body)
    }
}

/// One object of each resource kind in a tenant, for tests that need ids of every kind.
struct ResourceSamples {
    var values: [String: String]

    static let bodies: [String: String] = [
        "clusters.create": #"{"name":"matrix-cluster"}"#,
        "nodes.create": #"{"name":"matrix-node","engine_endpoint":"unix:///run/matrix.sock"}"#,
        "templates.create": #"{"name":"matrix-template","compose":"services:\n  web:\n    image: nginx\n"}"#,
        "templates.versions.create": #"{"compose":"services:\n  web:\n    image: nginx:2\n"}"#,
        "templates.validate": #"{"compose":"services:\n  web:\n    image: nginx\n"}"#,
        "images.create": #"{"repository":"library/matrix","tag":"1"}"#,
        "apps.create": #"{"name":"matrix-app","cluster_id":"clu_00000000000000000000","image":"nginx:1"}"#,
        "apps.redeploy": #"{"description":"matrix"}"#,
        "services.scale": #"{"replicas":1}"#,
    ]

    static func make(_ api: APIHarness, tenant: (id: String, tokens: [String: String], tokenIDs: [String: String])) async throws -> ResourceSamples {
        let admin = tenant.tokens["admin"]!
        let cluster = try await api.createCluster(admin, name: "sample")
        let clusterID = try #require(cluster["id"]?.stringValue, "\(cluster.text)")
        let node = try await api.createNode(admin, cluster: clusterID, name: "sample-node")
        let nodeID = try #require(node["id"]?.stringValue, "\(node.text)")
        let template = try await api.createTemplate(admin, name: "sample", compose: "services:\n  web:\n    image: nginx\n    labels:\n      aliyun.scale: '2'\n")
        let templateID = try #require(template["id"]?.stringValue, "\(template.text)")
        let image = try await api.call("POST", "/v1/images", token: admin, body: #"{"repository":"library/tomcat","tag":"8.5"}"#)
        let imageID = try #require(image["id"]?.stringValue, "\(image.text)")
        let app = try await api.deploy(admin, name: "sample", cluster: clusterID, source: #""template_id":"\#(templateID)""#)
        let appID = try #require(app["id"]?.stringValue, "\(app.text)")
        let deploymentID = try #require(app["deployment"]?["id"]?.stringValue, "\(app.text)")
        let services = try await api.call("GET", "/v1/apps/\(appID)/services", token: admin)
        let serviceID = try #require(services.items.first?["id"]?.stringValue, "\(services.text)")
        let containerID = Identifier.make(.container)
        let quotas = api.plane.settings.quotaDefaults
        _ = try await api.plane.store.transaction(TenantScope(tenantID: tenant.id)) { tx in
            try tx.createContainer(NewContainer(id: containerID, serviceID: serviceID, nodeID: nodeID, slot: 0, generation: 1), quotas: quotas)
        }
        return ResourceSamples(values: [
            "cluster_id": clusterID, "node_id": nodeID, "template_id": templateID, "number": "1", "image_id": imageID,
            "app_id": appID, "service_id": serviceID, "container_id": containerID, "deployment_id": deploymentID,
        ])
    }
}
