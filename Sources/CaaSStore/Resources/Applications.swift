import CaaSModel
import CaaSPostgres
import Foundation

/// Where an application's spec came from.
public enum ApplicationSource: String, Sendable, Equatable, Codable {
    /// A template version plus deploy-time variables.
    case template
    /// Compose text given inline.
    case compose
    /// One image, one service (the "Tomcat cluster from an image" path).
    case image
}

public struct ApplicationRecord: Sendable, Equatable {
    public var id: String
    public var clusterID: String
    public var name: String
    public var description: String
    public var source: ApplicationSource
    public var templateID: String?
    public var templateVersion: Int?
    public var imageID: String?
    public var compose: String?
    /// The parsed spec as stored (secret environment values sealed).
    public var spec: AppSpec
    /// Deploy-time variables as stored: JSON object text, sealed values as `{"sealed": "…"}`.
    public var variablesJSON: String
    public var generation: Int64
    public var observedGeneration: Int64
    /// `pending`, `deploying`, `running`, `degraded`, `failed`, `deleting`.
    public var status: String
    public var statusReason: String?
    public var version: Int64
    public var createdAt: Date
    public var updatedAt: Date
    public var deletingAt: Date?
}

let applicationColumns = """
    a.id, a.cluster_id, a.name, a.description, a.source, a.template_id, a.template_version::int8 AS template_version,
    a.image_id, a.compose, a.spec::text AS spec, a.variables::text AS variables, a.generation, a.observed_generation,
    a.status, a.status_reason, a.version, a.created_at, a.updated_at, a.deleting_at, a.created_at::text AS sort_time
    """

extension ApplicationRecord {
    init(row: PostgresRow) throws {
        id = try row.decode("id")
        clusterID = try row.decode("cluster_id")
        name = try row.decode("name")
        description = try row.decode("description")
        source = ApplicationSource(rawValue: try row.decode("source", as: String.self)) ?? .compose
        templateID = try row.decode("template_id")
        templateVersion = try row.decode("template_version")
        imageID = try row.decode("image_id")
        compose = try row.decode("compose")
        spec = try ResourceJSON.decode(AppSpec.self, try row.decode("spec", as: String.self))
        variablesJSON = try row.decode("variables")
        generation = try row.decode("generation")
        observedGeneration = try row.decode("observed_generation")
        status = try row.decode("status")
        statusReason = try row.decode("status_reason")
        version = try row.decode("version")
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
        deletingAt = try row.decode("deleting_at")
    }
}

/// What a generation is made of: its source and the parsed spec. The API layer has parsed and
/// validated the compose text and sealed every secret before this reaches the store.
public struct ApplicationDefinition: Sendable, Equatable {
    public var source: ApplicationSource
    public var templateID: String?
    public var templateVersion: Int?
    public var imageID: String?
    public var compose: String?
    public var spec: AppSpec
    public var variablesJSON: String

    public init(source: ApplicationSource, templateID: String? = nil, templateVersion: Int? = nil, imageID: String? = nil,
                compose: String? = nil, spec: AppSpec, variablesJSON: String = "{}") {
        self.source = source
        self.templateID = templateID
        self.templateVersion = templateVersion
        self.imageID = imageID
        self.compose = compose
        self.spec = spec
        self.variablesJSON = variablesJSON
    }
}

public struct NewApplication: Sendable, Equatable {
    public var id: String
    public var clusterID: String
    public var name: String
    public var description: String
    public var definition: ApplicationDefinition

    public init(id: String, clusterID: String, name: String, description: String, definition: ApplicationDefinition) {
        self.id = id
        self.clusterID = clusterID
        self.name = name
        self.description = description
        self.definition = definition
    }
}

public struct ApplicationFilter: Sendable, Equatable {
    public var clusterID: String?
    public var status: String?
    public var templateID: String?
    public var namePrefix: String?

    public init(clusterID: String? = nil, status: String? = nil, templateID: String? = nil, namePrefix: String? = nil) {
        self.clusterID = clusterID
        self.status = status
        self.templateID = templateID
        self.namePrefix = namePrefix
    }
}

/// How long a rollout may take before it ends as failed (the scheduler enforces it).
public struct RolloutSettings: Sendable, Equatable {
    public var deadlineSeconds: Int

    public init(deadlineSeconds: Int = 600) {
        self.deadlineSeconds = deadlineSeconds
    }
}

/// The outcome of a deletion request.
public enum ApplicationDeletion: Sendable, Equatable {
    /// Nothing ran: the rows are gone.
    case deleted
    /// Containers still exist on nodes: the application is `deleting` until they are removed.
    case deleting(ApplicationRecord)
}

extension TenantTransaction {
    /// Creates an application with one service per compose service (external ones as endpoints),
    /// its first deployment record, an event for each, and a reconcile request. Desired state
    /// only: no container is created here.
    public func createApplication(_ new: NewApplication, quotas: QuotaDefaults,
                                  rollout: RolloutSettings = RolloutSettings()) throws -> (ApplicationRecord, DeploymentRecord) {
        try beginWrite()
        try enforceQuota(.applications, defaults: quotas)
        let clusters = try connection.query(
            "SELECT name, status FROM clusters WHERE id = $1 AND tenant_id = $2 FOR SHARE", [new.clusterID, tenantID])
        guard let cluster = clusters.first else { throw StoreError.notFound(kind: "cluster", id: new.clusterID) }
        if try cluster.decode("status", as: String.self) == "deleting" {
            throw StoreError.conflict("cluster \(try cluster.decode("name", as: String.self)) is being deleted")
        }
        let definition = new.definition
        do {
            _ = try connection.execute("""
                INSERT INTO applications (id, tenant_id, cluster_id, name, description, source, template_id, template_version,
                                          image_id, compose, spec, variables, status, status_reason)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12::jsonb, 'pending', $13)
                """, [new.id, tenantID, new.clusterID, new.name, new.description, definition.source.rawValue,
                      definition.templateID, definition.templateVersion, definition.imageID, definition.compose,
                      try ResourceJSON.encode(definition.spec), definition.variablesJSON,
                      "desired state recorded; waiting for the scheduler to place containers"])
        } catch let error as PostgresError where error.isUniqueViolation {
            throw StoreError.conflict("an application named \(new.name) exists in this cluster")
        } catch let error as PostgresError where error.isForeignKeyViolation {
            if definition.templateID != nil {
                throw StoreError.notFound(kind: "template version", id: "\(definition.templateID!)/versions/\(definition.templateVersion ?? 0)")
            }
            throw StoreError.notFound(kind: "image", id: definition.imageID ?? "")
        }
        try writeServices(applicationID: new.id, spec: definition.spec, generation: 1, replacing: false)
        try appendEvent(type: "app.created", objectKind: "application", objectID: new.id,
                        summary: "application \(new.name) created from \(describe(definition)) with \(definition.spec.services.count) service(s)")
        let deployment = try startDeployment(applicationID: new.id, appName: new.name, from: nil, to: 1,
                                             strategy: "create", spec: definition.spec, rollout: rollout)
        try enqueue(.reconcile(applicationID: new.id, tenantID: tenantID))
        return (try requireApplication(new.id), deployment)
    }

    private func describe(_ definition: ApplicationDefinition) -> String {
        switch definition.source {
        case .template: "template \(definition.templateID ?? "") version \(definition.templateVersion ?? 0)"
        case .compose: "inline compose"
        case .image: "image \(definition.spec.services.first?.image ?? "")"
        }
    }

    public func application(_ id: String) throws -> ApplicationRecord? {
        try connection.query("SELECT \(applicationColumns) FROM applications a WHERE a.id = $1 AND a.tenant_id = $2", [id, tenantID])
            .first.map(ApplicationRecord.init(row:))
    }

    func requireApplication(_ id: String) throws -> ApplicationRecord {
        guard let app = try application(id) else { throw StoreError.notFound(kind: "application", id: id) }
        return app
    }

    public func applications(filter: ApplicationFilter, limit: Int, after: [String]?) throws -> [(ApplicationRecord, [String])] {
        let rows = try connection.query("""
            SELECT \(applicationColumns) FROM applications a
            WHERE a.tenant_id = $1
              AND ($2::text IS NULL OR a.cluster_id = $2)
              AND ($3::text IS NULL OR a.status = $3)
              AND ($4::text IS NULL OR a.template_id = $4)
              AND ($5::text IS NULL OR starts_with(a.name, $5))
              AND ($6::timestamptz IS NULL OR (a.created_at, a.id) > ($6::timestamptz, $7::text))
            ORDER BY a.created_at, a.id
            LIMIT $8
            """, [tenantID, filter.clusterID, filter.status, filter.templateID, filter.namePrefix, after?[0], after?[1], limit + 1])
        return try rows.map { (try ApplicationRecord(row: $0), try CreationOrder.key($0)) }
    }

    /// Changes an application. A new `definition` makes a new generation: the spec is replaced,
    /// services are created, updated or retired to match it, any unfinished rollout is
    /// superseded, and a deployment record and a reconcile request are written.
    public func updateApplication(_ id: String, expectedVersion: Int64?, description: String?,
                                  definition: ApplicationDefinition?,
                                  rollout: RolloutSettings = RolloutSettings()) throws -> (ApplicationRecord, DeploymentRecord?) {
        try beginWrite()
        let rows = try connection.query(
            "SELECT name, status, generation, version FROM applications WHERE id = $1 AND tenant_id = $2 FOR UPDATE", [id, tenantID])
        guard let row = rows.first else { throw StoreError.notFound(kind: "application", id: id) }
        let current: Int64 = try row.decode("version")
        let name: String = try row.decode("name")
        if let expectedVersion, expectedVersion != current { throw StoreError.versionMismatch(current: current) }
        if try row.decode("status", as: String.self) == "deleting" {
            throw StoreError.conflict("application \(name) is being deleted")
        }
        guard let definition else {
            _ = try connection.execute("""
                UPDATE applications SET description = coalesce($2, description), version = version + 1, updated_at = now()
                WHERE id = $1
                """, [id, description])
            try appendEvent(type: "app.updated", objectKind: "application", objectID: id, summary: "application \(name) changed")
            return (try requireApplication(id), nil)
        }
        let previous: Int64 = try row.decode("generation")
        let next = previous + 1
        do {
            _ = try connection.execute("""
                UPDATE applications SET description = coalesce($2, description), source = $3, template_id = $4,
                       template_version = $5, image_id = $6, compose = $7, spec = $8::jsonb, variables = $9::jsonb,
                       generation = $10, status = 'deploying', status_reason = $11, version = version + 1, updated_at = now()
                WHERE id = $1
                """, [id, description, definition.source.rawValue, definition.templateID, definition.templateVersion,
                      definition.imageID, definition.compose, try ResourceJSON.encode(definition.spec), definition.variablesJSON,
                      next, "generation \(next) recorded; waiting for the scheduler to roll it out"])
        } catch let error as PostgresError where error.isForeignKeyViolation {
            throw StoreError.notFound(kind: "template version", id: "\(definition.templateID ?? "")/versions/\(definition.templateVersion ?? 0)")
        }
        try writeServices(applicationID: id, spec: definition.spec, generation: next)
        try appendEvent(type: "app.updated", objectKind: "application", objectID: id,
                        summary: "application \(name) moves to generation \(next) (\(describe(definition)))")
        let deployment = try startDeployment(applicationID: id, appName: name, from: previous, to: next,
                                             strategy: "rolling", spec: definition.spec, rollout: rollout)
        try enqueue(.reconcile(applicationID: id, tenantID: tenantID))
        return (try requireApplication(id), deployment)
    }

    /// Marks the application for deletion: status `deleting`, every container's desired state
    /// `removed`, services wanting none, unfinished rollouts superseded, a reconcile request. When
    /// no container exists on any node the rows are removed at once.
    ///
    /// Its named volumes stay on the nodes unless `removeVolumes` (`volumes=true`, as `compose
    /// down --volumes`): then a volume removal for its cluster is recorded, and every push lists
    /// it until the agent has applied one read after the application's rows were gone.
    public func deleteApplication(_ id: String, expectedVersion: Int64?, removeVolumes: Bool = false) throws -> ApplicationDeletion {
        try beginWrite()
        let rows = try connection.query(
            "SELECT name, cluster_id, status, version FROM applications WHERE id = $1 AND tenant_id = $2 FOR UPDATE", [id, tenantID])
        guard let row = rows.first else { throw StoreError.notFound(kind: "application", id: id) }
        let current: Int64 = try row.decode("version")
        let name: String = try row.decode("name")
        let clusterID: String = try row.decode("cluster_id")
        if let expectedVersion, expectedVersion != current { throw StoreError.versionMismatch(current: current) }
        if removeVolumes {
            let recorded = try connection.execute("""
                INSERT INTO volume_removals (cluster_id, application_id, tenant_id) VALUES ($1, $2, $3)
                ON CONFLICT (cluster_id, application_id) DO NOTHING
                """, [clusterID, id, tenantID])
            if recorded == 1 {
                try appendEvent(type: "app.volumes_removing", objectKind: "application", objectID: id,
                                summary: "the volumes of application \(name) are to be removed from the nodes once its containers are gone")
            }
        }
        if try row.decode("status", as: String.self) != "deleting" {
            _ = try connection.execute("""
                UPDATE applications SET status = 'deleting', status_reason = 'deletion requested', deleting_at = now(),
                       version = version + 1, updated_at = now()
                WHERE id = $1
                """, [id])
            _ = try connection.execute("""
                UPDATE containers SET desired_state = 'removed', version = version + 1, updated_at = now()
                WHERE application_id = $1 AND desired_state <> 'removed'
                """, [id])
            _ = try connection.execute("""
                UPDATE services SET desired_replicas = 0, status = CASE WHEN kind = 'external' THEN status ELSE 'removing' END,
                       version = version + 1, updated_at = now()
                WHERE application_id = $1
                """, [id])
            try supersedeDeployments(applicationID: id, reason: "the application is being deleted")
            try appendEvent(type: "app.deleting", objectKind: "application", objectID: id,
                            summary: "application \(name) marked for deletion; its containers are to be removed")
            try enqueue(.reconcile(applicationID: id, tenantID: tenantID))
        }
        if try finishApplicationDeletion(id) {
            // No container was left to wait for, so no scheduler pass will push: push the removal.
            if removeVolumes { try pushVolumeRemoval(clusterID: clusterID) }
            return .deleted
        }
        return .deleting(try requireApplication(id))
    }

    /// A new desired generation for the cluster, and a push of it.
    private func pushVolumeRemoval(clusterID: String) throws {
        _ = try connection.execute("UPDATE clusters SET desired_generation = desired_generation + 1 WHERE id = $1", [clusterID])
        try JobSQL.enqueue(.push(clusterID: clusterID, tenantID: tenantID), on: connection)
    }

    /// Removes the rows of an application marked `deleting` once none of its containers exists on
    /// a node any more (each removed, or never placed). Returns whether it did. The scheduler
    /// calls this again as agents confirm removals.
    @discardableResult
    public func finishApplicationDeletion(_ id: String) throws -> Bool {
        try beginWrite()
        let rows = try connection.query("""
            SELECT a.name,
                   (SELECT count(*) FROM containers k WHERE k.application_id = a.id AND k.observed_state <> 'removed'
                      AND NOT (k.observed_state = 'pending' AND k.node_id IS NULL))::int8 AS remaining
            FROM applications a WHERE a.id = $1 AND a.tenant_id = $2 AND a.status = 'deleting'
            """, [id, tenantID])
        guard let row = rows.first, try row.decode("remaining", as: Int.self) == 0 else { return false }
        _ = try connection.execute("DELETE FROM applications WHERE id = $1 AND tenant_id = $2", [id, tenantID])
        try appendEvent(type: "app.deleted", objectKind: "application", objectID: id,
                        summary: "application \(try row.decode("name", as: String.self)) deleted")
        return true
    }

    /// Makes the services match `spec`: new ones are created, existing ones take the new spec and
    /// desired count, ones no longer in the spec are deleted (or retired while containers remain).
    /// Writes the services of `spec`; `replacing` (an update) also retires the services the new
    /// spec no longer has.
    func writeServices(applicationID: String, spec: AppSpec, generation: Int64, replacing: Bool = true) throws {
        var names: [String] = []
        for service in spec.services {
            names.append(service.name)
            let desired = service.mode == .global ? 0 : service.replicas
            _ = try connection.execute("""
                INSERT INTO services (id, tenant_id, application_id, name, kind, image, mode, spec, desired_replicas, generation, status)
                VALUES ($1, $2, $3, $4, 'container', $5, $6, $7::jsonb, $8, $9, 'pending')
                ON CONFLICT (application_id, name) DO UPDATE SET kind = 'container', image = EXCLUDED.image,
                    mode = EXCLUDED.mode, spec = EXCLUDED.spec, desired_replicas = EXCLUDED.desired_replicas,
                    endpoint_host = NULL, endpoint_ports = '{}', generation = EXCLUDED.generation, status = 'pending',
                    version = services.version + 1, updated_at = now()
                """, [Identifier.make(.service), tenantID, applicationID, service.name, service.image, service.mode.rawValue,
                      try ResourceJSON.encode(service), desired, generation])
        }
        for external in spec.externalServices {
            names.append(external.name)
            _ = try connection.execute("""
                INSERT INTO services (id, tenant_id, application_id, name, kind, spec, desired_replicas, endpoint_host,
                                      endpoint_ports, generation, status)
                VALUES ($1, $2, $3, $4, 'external', $5::jsonb, 0, $6, $7::int4[], $8, 'external')
                ON CONFLICT (application_id, name) DO UPDATE SET kind = 'external', image = NULL, mode = 'replicated',
                    spec = EXCLUDED.spec, desired_replicas = 0, endpoint_host = EXCLUDED.endpoint_host,
                    endpoint_ports = EXCLUDED.endpoint_ports, generation = EXCLUDED.generation, status = 'external',
                    version = services.version + 1, updated_at = now()
                """, [Identifier.make(.service), tenantID, applicationID, external.name, try ResourceJSON.encode(external),
                      external.host, external.ports, generation])
        }
        guard replacing else { return }
        // Retire services the new spec no longer has.
        _ = try connection.execute("""
            DELETE FROM services s WHERE s.application_id = $1 AND NOT (s.name = ANY($2::text[]))
              AND NOT EXISTS (SELECT 1 FROM containers k WHERE k.service_id = s.id)
            """, [applicationID, names])
        _ = try connection.execute("""
            UPDATE services SET desired_replicas = 0, status = 'removing', version = version + 1, updated_at = now()
            WHERE application_id = $1 AND NOT (name = ANY($2::text[]))
            """, [applicationID, names])
        _ = try connection.execute("""
            UPDATE containers k SET desired_state = 'removed', version = k.version + 1, updated_at = now()
            FROM services s WHERE k.service_id = s.id AND s.application_id = $1 AND s.status = 'removing'
              AND k.desired_state <> 'removed'
            """, [applicationID])
    }
}
