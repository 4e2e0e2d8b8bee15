import CaaSModel
import CaaSPostgres
import Foundation

public struct ServiceRecord: Sendable, Equatable {
    public var id: String
    public var applicationID: String
    public var name: String
    /// `container` or `external` (an endpoint outside the cluster, never containers).
    public var kind: String
    public var image: String?
    public var mode: ServiceMode
    /// The ServiceSpec (or ExternalServiceSpec) as stored, JSON text.
    public var specJSON: String
    public var desiredReplicas: Int
    /// Containers that run and are meant to (counted from the containers table).
    public var runningReplicas: Int
    public var endpointHost: String?
    public var endpointPorts: [Int]
    public var generation: Int64
    /// `pending`, `running`, `degraded`, `stopped`, `removing`, `external` (derived from the counts).
    public var status: String
    public var version: Int64
    public var createdAt: Date
    public var updatedAt: Date

    public var serviceSpec: ServiceSpec? { kind == "container" ? try? ResourceJSON.decode(ServiceSpec.self, specJSON) : nil }
}

let serviceColumns = """
    s.id, s.application_id, s.name, s.kind, s.image, s.mode, s.spec::text AS spec, s.desired_replicas::int8 AS desired_replicas,
    s.endpoint_host, s.endpoint_ports, s.generation, s.status AS stored_status, s.version, s.created_at, s.updated_at,
    s.created_at::text AS sort_time,
    (SELECT count(*) FROM containers k WHERE k.service_id = s.id AND k.observed_state = 'running'
        AND k.desired_state = 'running')::int8 AS running_replicas
    """

extension ServiceRecord {
    init(row: PostgresRow) throws {
        id = try row.decode("id")
        applicationID = try row.decode("application_id")
        name = try row.decode("name")
        kind = try row.decode("kind")
        image = try row.decode("image")
        mode = ServiceMode(rawValue: try row.decode("mode", as: String.self)) ?? .replicated
        specJSON = try row.decode("spec")
        desiredReplicas = try row.decode("desired_replicas")
        runningReplicas = try row.decode("running_replicas")
        endpointHost = try row.decode("endpoint_host")
        endpointPorts = try row.decode("endpoint_ports")
        generation = try row.decode("generation")
        version = try row.decode("version")
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
        let stored: String = try row.decode("stored_status")
        status = ServiceRecord.status(stored: stored, mode: mode, desired: desiredReplicas, running: runningReplicas)
    }

    /// The status shown: what was stored for external and retiring services, otherwise what the
    /// counts say (a global service's desired count is decided by the scheduler per node).
    static func status(stored: String, mode: ServiceMode, desired: Int, running: Int) -> String {
        if stored == "external" || stored == "removing" { return stored }
        if mode == .global { return running > 0 ? "running" : "pending" }
        if desired == 0 { return running == 0 ? "stopped" : "degraded" }
        if running >= desired { return "running" }
        return running == 0 ? "pending" : "degraded"
    }
}

extension TenantTransaction {
    public func service(_ id: String) throws -> ServiceRecord? {
        try connection.query("SELECT \(serviceColumns) FROM services s WHERE s.id = $1 AND s.tenant_id = $2", [id, tenantID])
            .first.map(ServiceRecord.init(row:))
    }

    /// Services of one application in creation order (compose order within a generation).
    public func services(applicationID: String, limit: Int, after: [String]?) throws -> [(ServiceRecord, [String])] {
        let rows = try connection.query("""
            SELECT \(serviceColumns) FROM services s
            WHERE s.tenant_id = $1 AND s.application_id = $2
              AND ($3::timestamptz IS NULL OR (s.created_at, s.id) > ($3::timestamptz, $4::text))
            ORDER BY s.created_at, s.id
            LIMIT $5
            """, [tenantID, applicationID, after?[0], after?[1], limit + 1])
        return try rows.map { (try ServiceRecord(row: $0), try CreationOrder.key($0)) }
    }

    /// Sets a service's desired count (like `docker-compose scale`). External and global services
    /// have no count to set; a service of an application being deleted cannot be scaled.
    public func scaleService(_ id: String, expectedVersion: Int64?, replicas: Int) throws -> ServiceRecord {
        try beginWrite()
        let rows = try connection.query("""
            SELECT s.name, s.kind, s.mode, s.status, s.version, s.desired_replicas::int8 AS desired, a.status AS app_status,
                   a.id AS app_id
            FROM services s JOIN applications a ON a.id = s.application_id
            WHERE s.id = $1 AND s.tenant_id = $2 FOR UPDATE OF s
            """, [id, tenantID])
        guard let row = rows.first else { throw StoreError.notFound(kind: "service", id: id) }
        let name: String = try row.decode("name")
        let current: Int64 = try row.decode("version")
        if let expectedVersion, expectedVersion != current { throw StoreError.versionMismatch(current: current) }
        if try row.decode("kind", as: String.self) == "external" {
            throw StoreError.conflict("service \(name) is an external endpoint: it has no containers to scale")
        }
        if try row.decode("mode", as: String.self) == ServiceMode.global.rawValue {
            throw StoreError.conflict("service \(name) is global: it runs one container on every eligible node")
        }
        if try row.decode("app_status", as: String.self) == "deleting" || (try row.decode("status", as: String.self)) == "removing" {
            throw StoreError.conflict("service \(name) is being removed")
        }
        let previous: Int = try row.decode("desired")
        let appID: String = try row.decode("app_id")
        _ = try connection.execute("""
            UPDATE services SET desired_replicas = $2, version = version + 1, updated_at = now() WHERE id = $1
            """, [id, replicas])
        try appendEvent(type: "service.scaled", objectKind: "service", objectID: id,
                        summary: "service \(name) scaled from \(previous) to \(replicas)")
        try enqueue(.reconcile(applicationID: appID, tenantID: tenantID))
        guard let service = try service(id) else { throw StoreError.notFound(kind: "service", id: id) }
        return service
    }
}
