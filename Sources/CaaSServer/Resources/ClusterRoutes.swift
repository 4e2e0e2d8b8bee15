import CaaSCrypto
import CaaSModel
import CaaSStore
import Foundation

/// Clusters: a tenant's groups of nodes, each with one agent that joins with the cluster's join
/// token (`caas_join_…`, shown once at creation and on rotation, stored as a SHA-256 digest).
enum ClusterRoutes {
    static let createSchema = JSONSchema.object(
        properties: ["name": .name, "description": .string(maxLength: 1000), "labels": .stringMap,
                     "network_cidr": .string(maxLength: 18), "node_subnet_prefix": .integer(minimum: 1, maximum: 30),
                     "networking": .enumeration(ClusterNetworking.allCases.map(\.rawValue))],
        required: ["name"])
    static let patchSchema = JSONSchema.object(properties: [
        "name": .name, "description": .string(maxLength: 1000), "labels": .nullable(.any),
    ])

    static let all: [APIRoute] = [
        APIRoute("POST", "/v1/clusters", action: "clusters.create", access: .tenant(.administer), handler: create),
        APIRoute("GET", "/v1/clusters", action: "clusters.list", access: .tenant(.read), query: ["limit", "cursor", "name_prefix", "status"], handler: list),
        APIRoute("GET", "/v1/clusters/{cluster_id}", action: "clusters.get", access: .tenant(.read), ids: ["cluster_id": .cluster], handler: get),
        APIRoute("PATCH", "/v1/clusters/{cluster_id}", action: "clusters.update", access: .tenant(.administer), ids: ["cluster_id": .cluster], handler: update),
        APIRoute("DELETE", "/v1/clusters/{cluster_id}", action: "clusters.delete", access: .tenant(.administer), query: ["force"], ids: ["cluster_id": .cluster], handler: delete),
        APIRoute("GET", "/v1/clusters/{cluster_id}/routes", action: "clusters.routes", access: .tenant(.read), ids: ["cluster_id": .cluster], handler: routes),
        APIRoute("POST", "/v1/clusters/{cluster_id}/join-token", action: "clusters.join_token.rotate", access: .tenant(.administer), ids: ["cluster_id": .cluster], handler: rotateJoinToken),
    ]

    static func network(_ body: JSONValue, settings: ResourceSettings) throws -> (IPv4Network, Int) {
        let text = body["network_cidr"]?.stringValue ?? settings.defaultClusterNetwork
        let network: IPv4Network
        switch IPv4Network.parse(text) {
        case .success(let parsed): network = parsed
        case .failure(.hostBitsSet(let detail)):
            // Well-formed (a.b.c.d/n) but not a network's own address: 422, like a prefix that cannot be carved.
            throw APIError.unprocessable([FieldError(pointer: "/network_cidr", detail: detail)])
        case .failure(let error):
            throw APIError.invalidBody([FieldError(pointer: "/network_cidr", detail: error.description)])
        }
        guard (8...28).contains(network.prefixLength) else {
            throw APIError.invalidBody([FieldError(pointer: "/network_cidr", detail: "the prefix length must be 8 to 28")])
        }
        let prefix = body["node_subnet_prefix"]?.integerValue.map(Int.init) ?? SubnetAllocator.defaultNodePrefix(for: network)
        // Each value is in range on its own (the schema checked it); together they may not fit: 422.
        if let problem = SubnetAllocator.problem(network: network, nodePrefix: prefix) {
            throw APIError.unprocessable([FieldError(pointer: "/node_subnet_prefix", detail: problem)])
        }
        return (network, prefix)
    }

    static func created(_ cluster: ClusterRecord, token: String, status: Int) -> APIResponse {
        var response = APIResponse.resource(ResourceViews.cluster(cluster, joinToken: token), version: cluster.version, id: cluster.id,
                                            status: status, location: status == 201 ? "/v1/clusters/\(cluster.id)" : nil)
        response.setHeader("Cache-Control", "no-store")
        // The join token is shown once: an idempotent replay answers without it.
        response.replayBody = Array((ResourceViews.cluster(cluster).serialized + "\n").utf8)
        return response
    }

    static func create(_ context: APIContext) async throws -> APIResponse {
        let body = try context.body(createSchema)
        let labelErrors = LabelRules.check(body["labels"], pointer: "/labels")
        if !labelErrors.isEmpty { throw APIError.invalidBody(labelErrors) }
        let (network, prefix) = try network(body, settings: context.resources)
        let networking = body["networking"]?.stringValue.flatMap(ClusterNetworking.init(rawValue:)) ?? .host
        // A node subnet gives its first host to the bridge and its last to the name server.
        if networking == .nodeSubnets, prefix > 29 {
            throw APIError.unprocessable([FieldError(pointer: "/node_subnet_prefix",
                                                     detail: "with node_subnets networking a node subnet needs room for containers beside its gateway and name server: a prefix of at most 29")])
        }
        let token = try JoinToken.generate()
        let new = NewCluster(id: Identifier.make(.cluster), name: body["name"]!.stringValue!,
                             description: body["description"]?.stringValue ?? "", labels: LabelRules.map(body["labels"]) ?? [:],
                             network: network, nodeSubnetPrefix: prefix, joinTokenDigestHex: JoinToken.digestHex(token),
                             networking: networking)
        let quotas = context.quotas
        let cluster = try await context.inTenant { try $0.createCluster(new, quotas: quotas) }
        return created(cluster, token: token, status: 201)
    }

    static func list(_ context: APIContext) async throws -> APIResponse {
        let page = try context.page(keyCount: 2)
        let filter = ClusterFilter(namePrefix: try context.queryText("name_prefix", maxLength: 63),
                                   status: try context.queryChoice("status", ["pending", "active", "deleting"]))
        let rows = try await context.inTenant { try $0.clusters(filter: filter, limit: page.limit, after: page.after) }
        return .json(Page(fetched: rows, limit: page.limit, key: { $0.1 }, render: { ResourceViews.cluster($0.0) }).json)
    }

    /// The routes the infrastructure must hold for `node_subnets` networking: each node's subnet
    /// via the node's address (`NodeRoute.via`; `null` when caas does not know it). Empty with
    /// `host` networking: nothing is to be routed.
    static func routes(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("cluster_id")
        let (cluster, nodes) = try await context.inTenant { tx -> (ClusterRecord, [NodeRecord]) in
            guard let cluster = try tx.cluster(id) else { throw APIError.notFound("cluster", id) }
            return (cluster, try tx.nodes(filter: NodeFilter(clusterID: id), limit: 100_000, after: nil).map(\.0))
        }
        let items: [JSONValue] = cluster.networking == .host ? [] : nodes.sorted {
            (IPv4Network($0.subnet)?.address ?? 0, $0.id) < (IPv4Network($1.subnet)?.address ?? 0, $1.id)
        }.map { node in
            .object(["subnet": .string(node.subnet), "node_id": .string(node.id), "node_name": .string(node.name),
                     "via": NodeRoute.via(labels: node.labels, engineEndpoint: node.engineEndpoint).map(JSONValue.string) ?? .null])
        }
        return .json(.object(["networking": .string(cluster.networking.rawValue), "items": .array(items)]))
    }

    static func get(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("cluster_id")
        guard let cluster = try await context.inTenant({ try $0.cluster(id) }) else { throw APIError.notFound("cluster", id) }
        return .resource(ResourceViews.cluster(cluster), version: cluster.version, id: id)
    }

    static func update(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("cluster_id")
        let patch = try context.body(patchSchema)
        let labelErrors = LabelRules.checkPatch(patch["labels"], pointer: "/labels")
        if !labelErrors.isEmpty { throw APIError.invalidBody(labelErrors) }
        let expected = try context.expectedVersion()
        let cluster = try await context.inTenant { tx -> ClusterRecord in
            try tx.beginWrite()
            guard let current = try tx.cluster(id) else { throw StoreError.notFound(kind: "cluster", id: id) }
            if let expected, expected != current.version { throw StoreError.versionMismatch(current: current.version) }
            let merged = MergePatch.apply(patch, to: .object([
                "name": .string(current.name), "description": .string(current.description),
                "labels": ResourceViews.labels(current.labels),
            ]))
            let changes = ClusterChanges(name: merged["name"]?.stringValue ?? current.name,
                                         description: merged["description"]?.stringValue ?? "",
                                         labels: LabelRules.map(merged["labels"]) ?? [:])
            return try tx.updateCluster(id, expectedVersion: current.version, changes: changes)
        }
        return .resource(ResourceViews.cluster(cluster), version: cluster.version, id: id)
    }

    static func delete(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("cluster_id")
        let force = try context.forceFlag()
        let expected = try context.expectedVersion()
        try await context.inTenant { try $0.deleteCluster(id, expectedVersion: expected, force: force) }
        var response = APIResponse.noContent()
        response.auditTarget = id
        return response
    }

    static func rotateJoinToken(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("cluster_id")
        try context.emptyBody()
        let expected = try context.expectedVersion()
        let token = try JoinToken.generate()
        let digest = JoinToken.digestHex(token)
        let cluster = try await context.inTenant { try $0.rotateJoinToken(id, expectedVersion: expected, digestHex: digest) }
        return created(cluster, token: token, status: 200)
    }
}

/// Join tokens of clusters: `caas_join_` + base32 of 32 random bytes (256 bits) from OpenSSL.
enum JoinToken {
    static let prefix = "caas_join_"

    static func generate() throws -> String {
        prefix + Base32.encode(try SecureRandom.bytes(32))
    }

    static func digestHex(_ token: String) -> String {
        Hex.encode(SHA256.hash(token))
    }
}
