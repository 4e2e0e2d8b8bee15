import CaaSModel
import CaaSPostgres
import Foundation

/// A published port of a container, as its agent applied it.
public struct ContainerPort: Sendable, Equatable, Codable {
    public var containerPort: Int
    public var hostPort: Int?
    /// The host address it is bound to; `nil`: every address of the node.
    public var hostAddress: String?
    public var `protocol`: String

    public init(containerPort: Int, hostPort: Int?, hostAddress: String? = nil, protocol: String = "tcp") {
        self.containerPort = containerPort
        self.hostPort = hostPort
        self.hostAddress = hostAddress
        self.protocol = `protocol`
    }
}

public struct ContainerRecord: Sendable, Equatable {
    public var id: String
    public var applicationID: String
    public var serviceID: String
    /// The service's name (`web`), for lists that show `web.3` rather than an id.
    public var serviceName: String
    public var nodeID: String?
    public var slot: Int
    public var generation: Int64
    public var desiredState: DesiredContainerState
    public var observedState: ObservedContainerState
    public var health: HealthStatus
    /// Where it serves, as its agent reported it (`127.0.0.1:PORT` with host networking).
    public var address: String?
    /// Its own address on its node's caas network, chosen at placement (clusters with
    /// `node_subnets` networking); `nil` with host networking.
    public var ipAddress: String? = nil
    public var ports: [ContainerPort]
    public var exitCode: Int?
    public var restartCount: Int
    public var statusMessage: String?
    public var version: Int64
    public var createdAt: Date
    public var updatedAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    public var observedAt: Date?
}

let containerColumns = """
    id, application_id, service_id, (SELECT s.name FROM services s WHERE s.id = containers.service_id) AS service_name,
    node_id, slot::int8 AS slot, generation, desired_state, observed_state, health, address, host(ip_address) AS ip_address,
    ports::text AS ports, exit_code::int8 AS exit_code, restart_count::int8 AS restart_count, status_message, version,
    created_at, updated_at, started_at, finished_at, observed_at, created_at::text AS sort_time
    """

extension ContainerRecord {
    init(row: PostgresRow) throws {
        id = try row.decode("id")
        applicationID = try row.decode("application_id")
        serviceID = try row.decode("service_id")
        serviceName = try row.decode("service_name", as: String?.self) ?? ""
        nodeID = try row.decode("node_id")
        slot = try row.decode("slot")
        generation = try row.decode("generation")
        desiredState = DesiredContainerState(rawValue: try row.decode("desired_state", as: String.self)) ?? .removed
        observedState = ObservedContainerState(rawValue: try row.decode("observed_state", as: String.self)) ?? .lost
        health = HealthStatus(rawValue: try row.decode("health", as: String.self)) ?? .unknown
        address = try row.decode("address")
        ipAddress = try row.decode("ip_address")
        ports = (try? ResourceJSON.decode([ContainerPort].self, try row.decode("ports", as: String.self))) ?? []
        exitCode = try row.decode("exit_code")
        restartCount = try row.decode("restart_count")
        statusMessage = try row.decode("status_message")
        version = try row.decode("version")
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
        startedAt = try row.decode("started_at")
        finishedAt = try row.decode("finished_at")
        observedAt = try row.decode("observed_at")
    }
}

public struct ContainerFilter: Sendable, Equatable {
    public var applicationID: String?
    public var serviceID: String?
    public var nodeID: String?
    public var observedState: ObservedContainerState?

    public init(applicationID: String? = nil, serviceID: String? = nil, nodeID: String? = nil, observedState: ObservedContainerState? = nil) {
        self.applicationID = applicationID
        self.serviceID = serviceID
        self.nodeID = nodeID
        self.observedState = observedState
    }
}

/// A container decided on outside the planner's batched apply (tests and operators' tools use
/// it; the scheduler's workers insert theirs in `PlanApply`).
public struct NewContainer: Sendable, Equatable {
    public var id: String
    public var serviceID: String
    public var nodeID: String?
    public var slot: Int
    public var generation: Int64

    public init(id: String, serviceID: String, nodeID: String?, slot: Int, generation: Int64) {
        self.id = id
        self.serviceID = serviceID
        self.nodeID = nodeID
        self.slot = slot
        self.generation = generation
    }
}

extension TenantTransaction {
    public func container(_ id: String) throws -> ContainerRecord? {
        try connection.query("SELECT \(containerColumns) FROM containers WHERE id = $1 AND tenant_id = $2", [id, tenantID])
            .first.map(ContainerRecord.init(row:))
    }

    public func containers(filter: ContainerFilter, limit: Int, after: [String]?) throws -> [(ContainerRecord, [String])] {
        let rows = try connection.query("""
            SELECT \(containerColumns) FROM containers
            WHERE tenant_id = $1
              AND ($2::text IS NULL OR application_id = $2)
              AND ($3::text IS NULL OR service_id = $3)
              AND ($4::text IS NULL OR node_id = $4)
              AND ($5::text IS NULL OR observed_state = $5)
              AND ($6::timestamptz IS NULL OR (created_at, id) > ($6::timestamptz, $7::text))
            ORDER BY created_at, id
            LIMIT $8
            """, [tenantID, filter.applicationID, filter.serviceID, filter.nodeID, filter.observedState?.rawValue,
                  after?[0], after?[1], limit + 1])
        return try rows.map { (try ContainerRecord(row: $0), try CreationOrder.key($0)) }
    }

    /// Scheduler side: records a container decision (desired `running`, observed `pending`, or
    /// `assigned` when it has a node), checked against the containers quota.
    public func createContainer(_ new: NewContainer, quotas: QuotaDefaults) throws -> ContainerRecord {
        try beginWrite()
        try enforceQuota(.containers, defaults: quotas)
        let services = try connection.query(
            "SELECT application_id, name FROM services WHERE id = $1 AND tenant_id = $2 AND kind = 'container'", [new.serviceID, tenantID])
        guard let service = services.first else { throw StoreError.notFound(kind: "service", id: new.serviceID) }
        let rows = try connection.query("""
            INSERT INTO containers (id, tenant_id, application_id, service_id, node_id, slot, generation, observed_state)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            RETURNING \(containerColumns)
            """, [new.id, tenantID, try service.decode("application_id", as: String.self), new.serviceID, new.nodeID, new.slot,
                  new.generation, new.nodeID == nil ? "pending" : "assigned"])
        try appendEvent(type: "container.created", objectKind: "container", objectID: new.id,
                        summary: "container \(try service.decode("name", as: String.self)).\(new.slot) created")
        return try ContainerRecord(row: rows[0])
    }
}
