@testable import CaaSServer
@testable import CaaSStore
import Foundation
import Testing
import Yams

/// The resource routes and openapi.yaml describe the same operations, with the route's audit
/// action as the operationId, and every body-taking operation has a request schema.
@Suite struct ResourceOpenAPITests {
    static var document: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("openapi.yaml")
    }

    /// "METHOD path" → operationId of every operation in openapi.yaml.
    static func operations() throws -> [String: String] {
        let text = try String(contentsOf: document, encoding: .utf8)
        let root = try #require(try Yams.load(yaml: text) as? [String: Any])
        let paths = try #require(root["paths"] as? [String: Any])
        var operations: [String: String] = [:]
        for (path, item) in paths {
            guard let item = item as? [String: Any] else { continue }
            for method in ["get", "post", "put", "patch", "delete"] {
                guard let operation = item[method] as? [String: Any] else { continue }
                operations["\(method.uppercased()) \(path)"] = operation["operationId"] as? String ?? ""
            }
        }
        return operations
    }

    static let resourcePrefixes = ["/v1/clusters", "/v1/nodes", "/v1/templates", "/v1/images", "/v1/apps", "/v1/services",
                                   "/v1/containers", "/v1/deployments"]

    @Test func everyResourceRouteIsInOpenAPIAndTheReverse() throws {
        let documented = try Self.operations()
        // The scheduler's rollback route lives under /v1/apps too; the agent channel's routes under
        // /v1/clusters and /v1/containers are checked in AgentChannelTests as well.
        let routes = Dictionary(uniqueKeysWithValues: (ResourceRoutes.all + SchedulerRoutes.all + AgentChannelRoutes.all(nil)).map { ("\($0.method) \($0.path)", $0.action) })
        for (key, action) in routes {
            #expect(documented[key] == action, "\(key): openapi.yaml has \(documented[key] ?? "nothing"), the route table \(action)")
        }
        for key in documented.keys where Self.resourcePrefixes.contains(where: { key.split(separator: " ")[1].hasPrefix($0) }) {
            #expect(routes[key] != nil, "openapi.yaml documents \(key), which the route table lacks")
        }
    }

    @Test func bodyTakingResourceOperationsHaveRequestSchemas() throws {
        let text = try String(contentsOf: Self.document, encoding: .utf8)
        let root = try #require(try Yams.load(yaml: text) as? [String: Any])
        let paths = try #require(root["paths"] as? [String: Any])
        for route in ResourceRoutes.all where ["POST", "PATCH", "PUT"].contains(route.method) {
            let item = try #require(paths[route.path] as? [String: Any], "\(route.path)")
            let operation = try #require(item[route.method.lowercased()] as? [String: Any], "\(route.method) \(route.path)")
            #expect(operation["requestBody"] != nil, "\(route.method) \(route.path) has no requestBody")
        }
    }

    @Test func theContainerSchemaNamesExactlyTheMembersOfTheContainerView() throws {
        let text = try String(contentsOf: Self.document, encoding: .utf8)
        let root = try #require(try Yams.load(yaml: text) as? [String: Any])
        let schemas = try #require((root["components"] as? [String: Any])?["schemas"] as? [String: Any])
        let schema = try #require(schemas["Container"] as? [String: Any])
        let properties = try #require(schema["properties"] as? [String: Any])
        let portItem = try #require((properties["ports"] as? [String: Any])?["items"] as? [String: Any])
        let portProperties = try #require(portItem["properties"] as? [String: Any])
        let now = Date()
        let record = ContainerRecord(id: "ctr_1", applicationID: "app_1", serviceID: "svc_1", serviceName: "web", nodeID: "nod_1", slot: 1, generation: 1,
                                     desiredState: .running, observedState: .running, health: .healthy, address: "127.0.0.1:20345",
                                     ports: [ContainerPort(containerPort: 80, hostPort: 8080, hostAddress: "127.0.0.1")], exitCode: nil,
                                     restartCount: 0, statusMessage: nil, version: 1, createdAt: now, updatedAt: now, startedAt: now,
                                     finishedAt: nil, observedAt: now)
        guard case .object(let view) = ResourceViews.container(record),
              case .array(let ports) = view["ports"], case .object(let port) = ports.first else {
            Issue.record("the container view is not an object with a port")
            return
        }
        #expect(Set(view.keys) == Set(properties.keys))
        #expect(Set(port.keys) == Set(portProperties.keys))
        #expect(Set(schema["required"] as? [String] ?? []).isSubset(of: view.keys))
        #expect(view["address"] == .string("127.0.0.1:20345"))
    }
}

@Suite struct ResourceSettingsTests {
    @Test func settingsComeFromTheEnvironmentAndBadOnesAreNamed() throws {
        let key = String(repeating: "ab", count: 32)
        let settings = try ResourceSettings.resolve(environment: ["CAAS_SECRETS_KEY": key, "CAAS_ROLLOUT_DEADLINE": "120",
                                                                  "CAAS_DEFAULT_CLUSTER_CIDR": "10.50.0.0/16"])
        #expect(settings.secretsKey == Array(repeating: 0xab, count: 32))
        #expect(settings.rolloutDeadlineSeconds == 120)
        #expect(settings.defaultClusterNetwork == "10.50.0.0/16")
        let defaults = try ResourceSettings.resolve(environment: [:])
        #expect(defaults.secretsKey == nil, "the control plane makes a random one")
        #expect(throws: ConfigurationError.self) { try ResourceSettings.resolve(environment: ["CAAS_SECRETS_KEY": "short"]) }
        #expect(throws: ConfigurationError.self) { try ResourceSettings.resolve(environment: ["CAAS_ROLLOUT_DEADLINE": "1"]) }
        #expect(throws: ConfigurationError.self) { try ResourceSettings.resolve(environment: ["CAAS_DEFAULT_CLUSTER_CIDR": "10.50.0.1/16"]) }
    }
}
