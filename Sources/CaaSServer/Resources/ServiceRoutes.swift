import CaaSModel
import CaaSStore
import Foundation

/// Services of applications: one per compose service; scaled by setting the desired count.
enum ServiceRoutes {
    static let scaleSchema = JSONSchema.object(properties: ["replicas": .integer(minimum: 0, maximum: Int64(SpecBounds.replicas.upperBound))], required: ["replicas"])
    static let patchSchema = JSONSchema.object(properties: ["replicas": .integer(minimum: 0, maximum: Int64(SpecBounds.replicas.upperBound))])

    static let all: [APIRoute] = [
        APIRoute("GET", "/v1/services/{service_id}", action: "services.get", access: .tenant(.read), ids: ["service_id": .service], handler: get),
        APIRoute("PATCH", "/v1/services/{service_id}", action: "services.update", access: .tenant(.operate), ids: ["service_id": .service], handler: patch),
        APIRoute("POST", "/v1/services/{service_id}/scale", action: "services.scale", access: .tenant(.operate), ids: ["service_id": .service], handler: scale),
    ]

    static func get(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("service_id")
        guard let service = try await context.inTenant({ try $0.service(id) }) else { throw APIError.notFound("service", id) }
        return .resource(ResourceViews.service(service), version: service.version, id: id)
    }

    static func scale(_ context: APIContext) async throws -> APIResponse {
        let body = try context.body(scaleSchema)
        return try await setReplicas(context, Int(body["replicas"]!.integerValue!))
    }

    static func patch(_ context: APIContext) async throws -> APIResponse {
        let body = try context.body(patchSchema)
        guard let replicas = body["replicas"]?.integerValue else {
            return try await get(context)
        }
        return try await setReplicas(context, Int(replicas))
    }

    static func setReplicas(_ context: APIContext, _ replicas: Int) async throws -> APIResponse {
        let id = context.parameter("service_id")
        let expected = try context.expectedVersion()
        let service = try await context.inTenant { try $0.scaleService(id, expectedVersion: expected, replicas: replicas) }
        return .resource(ResourceViews.service(service), version: service.version, id: id)
    }
}

/// Containers: read-only through the public API (the scheduler and agents write them).
enum ContainerRoutes {
    static let all: [APIRoute] = [
        APIRoute("GET", "/v1/containers", action: "containers.list", access: .tenant(.read), query: ["limit", "cursor", "app", "service", "node", "state"], handler: list),
        APIRoute("GET", "/v1/containers/{container_id}", action: "containers.get", access: .tenant(.read), ids: ["container_id": .container], handler: get),
    ]

    static func list(_ context: APIContext) async throws -> APIResponse {
        let page = try context.page(keyCount: 2)
        let filter = ContainerFilter(
            applicationID: try context.queryID("app", kind: .application),
            serviceID: try context.queryID("service", kind: .service),
            nodeID: try context.queryID("node", kind: .node),
            observedState: try context.queryChoice("state", ObservedContainerState.allCases.map(\.rawValue)).flatMap(ObservedContainerState.init(rawValue:)))
        let rows = try await context.inTenant { try $0.containers(filter: filter, limit: page.limit, after: page.after) }
        return .json(Page(fetched: rows, limit: page.limit, key: { $0.1 }, render: { ResourceViews.container($0.0) }).json)
    }

    static func get(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("container_id")
        guard let container = try await context.inTenant({ try $0.container(id) }) else { throw APIError.notFound("container", id) }
        return .resource(ResourceViews.container(container), version: container.version, id: id)
    }
}

/// Deployments: the record of every rollout, read-only.
enum DeploymentRoutes {
    static let all: [APIRoute] = [
        APIRoute("GET", "/v1/deployments/{deployment_id}", action: "deployments.get", access: .tenant(.read), ids: ["deployment_id": .deployment], handler: get),
    ]

    static func get(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("deployment_id")
        guard let deployment = try await context.inTenant({ try $0.deployment(id) }) else { throw APIError.notFound("deployment", id) }
        return .resource(ResourceViews.deployment(deployment), version: deployment.version, id: id)
    }
}
