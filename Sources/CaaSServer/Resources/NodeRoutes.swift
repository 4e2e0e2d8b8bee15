import CaaSModel
import CaaSStore
import Foundation

/// Nodes of a cluster: each one engine endpoint, labels, capacity, a status the operator can
/// drain, pause and activate, and a subnet of the cluster network allocated at registration.
enum NodeRoutes {
    static let capacitySchema = JSONSchema.object(properties: [
        "cpus": .any, "memory_bytes": .integer(minimum: 0, maximum: SpecBounds.memoryBytes.upperBound),
    ])
    static let createSchema = JSONSchema.object(
        properties: ["name": .name, "engine_endpoint": .string(maxLength: 512), "engine_tls": .boolean,
                     "labels": .stringMap, "capacity": capacitySchema],
        required: ["name", "engine_endpoint"])
    static let patchSchema = JSONSchema.object(properties: [
        "name": .name, "engine_endpoint": .string(maxLength: 512), "engine_tls": .boolean,
        "labels": .nullable(.any), "capacity": capacitySchema,
    ])

    static let all: [APIRoute] = [
        APIRoute("POST", "/v1/clusters/{cluster_id}/nodes", action: "nodes.create", access: .tenant(.administer), ids: ["cluster_id": .cluster], handler: create),
        APIRoute("GET", "/v1/clusters/{cluster_id}/nodes", action: "nodes.list_in_cluster", access: .tenant(.read), query: ["limit", "cursor", "status", "label"], ids: ["cluster_id": .cluster], handler: listInCluster),
        APIRoute("GET", "/v1/nodes", action: "nodes.list", access: .tenant(.read), query: ["limit", "cursor", "cluster_id", "status", "label"], handler: list),
        APIRoute("GET", "/v1/nodes/{node_id}", action: "nodes.get", access: .tenant(.read), ids: ["node_id": .node], handler: get),
        APIRoute("PATCH", "/v1/nodes/{node_id}", action: "nodes.update", access: .tenant(.administer), ids: ["node_id": .node], handler: update),
        APIRoute("DELETE", "/v1/nodes/{node_id}", action: "nodes.delete", access: .tenant(.administer), query: ["force"], ids: ["node_id": .node], handler: delete),
        APIRoute("POST", "/v1/nodes/{node_id}/drain", action: "nodes.drain", access: .tenant(.operate), ids: ["node_id": .node], handler: { try await act($0, .drain) }),
        APIRoute("POST", "/v1/nodes/{node_id}/pause", action: "nodes.pause", access: .tenant(.operate), ids: ["node_id": .node], handler: { try await act($0, .pause) }),
        APIRoute("POST", "/v1/nodes/{node_id}/activate", action: "nodes.activate", access: .tenant(.operate), ids: ["node_id": .node], handler: { try await act($0, .activate) }),
    ]

    /// Checks what the schema cannot: endpoint syntax, the cpu number, labels.
    static func check(_ body: JSONValue) -> [FieldError] {
        var errors = LabelRules.check(body["labels"], pointer: "/labels")
        if let endpoint = body["engine_endpoint"]?.stringValue, case .failure(let error) = EngineEndpoint.parse(endpoint) {
            errors.append(FieldError(pointer: "/engine_endpoint", detail: error.description))
        }
        if let cpus = body["capacity"]?["cpus"] {
            if cpuValue(cpus) == nil {
                errors.append(FieldError(pointer: "/capacity/cpus", detail: "must be a number from 0 to 4096"))
            }
        }
        return errors
    }

    /// TLS asked for a unix:// endpoint: both values are well-formed, they do not fit together (422).
    static func checkTLS(_ body: JSONValue) throws {
        if body["engine_tls"]?.boolValue == true, let endpoint = body["engine_endpoint"]?.stringValue, endpoint.hasPrefix("unix://") {
            throw APIError.unprocessable([FieldError(pointer: "/engine_tls", detail: "TLS applies to tcp:// endpoints only")])
        }
    }

    static func cpuValue(_ value: JSONValue) -> Double? {
        let number: Double
        switch value {
        case .integer(let n): number = Double(n)
        case .number(let d): number = d
        default: return nil
        }
        return SpecBounds.cpus.contains(number) ? number : nil
    }

    static func create(_ context: APIContext) async throws -> APIResponse {
        let clusterID = context.parameter("cluster_id")
        let body = try context.body(createSchema)
        let errors = check(body)
        if !errors.isEmpty { throw APIError.invalidBody(errors) }
        try checkTLS(body)
        let new = NewNode(id: Identifier.make(.node), clusterID: clusterID, name: body["name"]!.stringValue!,
                          engineEndpoint: body["engine_endpoint"]!.stringValue!, engineTLS: body["engine_tls"]?.boolValue ?? false,
                          labels: LabelRules.map(body["labels"]) ?? [:],
                          capacityCPUs: body["capacity"]?["cpus"].flatMap(cpuValue) ?? 0,
                          capacityMemory: body["capacity"]?["memory_bytes"]?.integerValue ?? 0)
        let quotas = context.quotas
        let node = try await context.inTenant { try $0.createNode(new, quotas: quotas) }
        return .resource(ResourceViews.node(node), version: node.version, id: node.id, status: 201, location: "/v1/nodes/\(node.id)")
    }

    static func filter(_ context: APIContext, clusterID: String?) throws -> NodeFilter {
        var label: (String, String)?
        if let text = try context.queryText("label", maxLength: 400) {
            let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty else { throw APIError.badRequest("label must be key=value", pointer: "label") }
            label = (String(parts[0]), String(parts[1]))
        }
        let status = try context.queryChoice("status", NodeStatus.allCases.map(\.rawValue)).flatMap(NodeStatus.init(rawValue:))
        return NodeFilter(clusterID: clusterID, status: status, label: label.map { (key: $0.0, value: $0.1) })
    }

    static func listInCluster(_ context: APIContext) async throws -> APIResponse {
        let clusterID = context.parameter("cluster_id")
        let page = try context.page(keyCount: 2)
        let filter = try filter(context, clusterID: clusterID)
        let rows = try await context.inTenant { tx -> [(NodeRecord, [String])] in
            guard try tx.cluster(clusterID) != nil else { throw StoreError.notFound(kind: "cluster", id: clusterID) }
            return try tx.nodes(filter: filter, limit: page.limit, after: page.after)
        }
        return .json(Page(fetched: rows, limit: page.limit, key: { $0.1 }, render: { ResourceViews.node($0.0) }).json)
    }

    static func list(_ context: APIContext) async throws -> APIResponse {
        let page = try context.page(keyCount: 2)
        let filter = try filter(context, clusterID: try context.queryID("cluster_id", kind: .cluster))
        let rows = try await context.inTenant { try $0.nodes(filter: filter, limit: page.limit, after: page.after) }
        return .json(Page(fetched: rows, limit: page.limit, key: { $0.1 }, render: { ResourceViews.node($0.0) }).json)
    }

    static func get(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("node_id")
        guard let node = try await context.inTenant({ try $0.node(id) }) else { throw APIError.notFound("node", id) }
        return .resource(ResourceViews.node(node), version: node.version, id: id)
    }

    static func update(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("node_id")
        let patch = try context.body(patchSchema)
        var errors = check(patch.objectValue.map { JSONValue.object($0.filter { $0.key != "labels" }) } ?? patch)
        errors += LabelRules.checkPatch(patch["labels"], pointer: "/labels")
        if !errors.isEmpty { throw APIError.invalidBody(errors) }
        try checkTLS(patch)
        let expected = try context.expectedVersion()
        let node = try await context.inTenant { tx -> NodeRecord in
            try tx.beginWrite()
            guard let current = try tx.node(id) else { throw StoreError.notFound(kind: "node", id: id) }
            if let expected, expected != current.version { throw StoreError.versionMismatch(current: current.version) }
            let merged = MergePatch.apply(patch, to: .object(["labels": ResourceViews.labels(current.labels)]))
            let changes = NodeChanges(name: patch["name"]?.stringValue, engineEndpoint: patch["engine_endpoint"]?.stringValue,
                                      engineTLS: patch["engine_tls"]?.boolValue,
                                      labels: patch["labels"] == nil ? nil : (LabelRules.map(merged["labels"]) ?? [:]),
                                      capacityCPUs: patch["capacity"]?["cpus"].flatMap(cpuValue),
                                      capacityMemory: patch["capacity"]?["memory_bytes"]?.integerValue)
            return try tx.updateNode(id, expectedVersion: current.version, changes: changes)
        }
        return .resource(ResourceViews.node(node), version: node.version, id: id)
    }

    static func delete(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("node_id")
        let force = try context.forceFlag()
        let expected = try context.expectedVersion()
        try await context.inTenant { try $0.deleteNode(id, expectedVersion: expected, force: force) }
        var response = APIResponse.noContent()
        response.auditTarget = id
        return response
    }

    static func act(_ context: APIContext, _ action: NodeAction) async throws -> APIResponse {
        let id = context.parameter("node_id")
        try context.emptyBody()
        let expected = try context.expectedVersion()
        let node = try await context.inTenant { try $0.applyNodeAction(id, expectedVersion: expected, action: action) }
        return .resource(ResourceViews.node(node), version: node.version, id: id)
    }
}
