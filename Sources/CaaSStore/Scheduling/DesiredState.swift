import CaaSModel
import CaaSPostgres
import Foundation

/// What the pusher sends: the cluster's full desired state under its current generation.
public struct ClusterPush: Sendable, Equatable {
    public var tenantID: String
    public var state: DesiredClusterState
    /// The generation the agent last acknowledged.
    public var pushedGeneration: Int64
    /// Applications in `state.volumeRemovals` whose rows were gone when the state was read: once
    /// the agent applied this state their volumes are removed (`forgetVolumeRemovals`).
    public var settledVolumeRemovals: [String] = []
    /// The earliest time a container held back by its restart backoff becomes due (push again then).
    public var nextDueAt: Date?
}

extension SystemTransaction {
    /// The desired state of `clusterID`: every container meant to exist (running or stopped) on
    /// its nodes, except those still waiting for their restart backoff. nil: no such cluster.
    public func desiredState(clusterID: String) throws -> ClusterPush? {
        guard let cluster = try connection.query("""
            SELECT tenant_id, desired_generation, pushed_generation, networking FROM clusters WHERE id = $1
            """, [clusterID]).first else { return nil }
        // Specs once per (service, generation), not once per container row.
        var specs: [String: ServiceSpec] = [:]
        var names: [String: (app: String, appName: String, service: String)] = [:]
        // Each application's top-level volumes, by key: what its named mounts are made of.
        var declaredVolumes: [String: [String: VolumeSpec]] = [:]
        for row in try connection.query("""
            SELECT id, coalesce(spec->'volumes', '[]'::jsonb)::text AS volumes FROM applications WHERE cluster_id = $1
            """, [clusterID]) {
            let volumes = (try? StoredJSON.decode([VolumeSpec].self, try row.decode("volumes"))) ?? []
            declaredVolumes[try row.decode("id")] = Dictionary(volumes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        }
        // Each application's container services and external hosts: the names its containers resolve.
        var servicesByApp: [String: [String: [String]]] = [:]
        var externalsByApp: [String: [String: String]] = [:]
        for row in try connection.query("""
            SELECT s.application_id, s.name, s.endpoint_host FROM services s JOIN applications a ON a.id = s.application_id
            WHERE a.cluster_id = $1 AND s.kind = 'external' AND s.endpoint_host IS NOT NULL
            """, [clusterID]) {
            externalsByApp[try row.decode("application_id"), default: [:]][try row.decode("name")] = try row.decode("endpoint_host")
        }
        for row in try connection.query("""
            SELECT s.id, s.name, s.application_id, a.name AS app_name, s.generation, s.spec::text AS spec,
                   s.previous_generation, s.previous_spec::text AS previous_spec
            FROM services s JOIN applications a ON a.id = s.application_id
            WHERE a.cluster_id = $1 AND s.kind = 'container'
            """, [clusterID]) {
            let id: String = try row.decode("id")
            names[id] = (try row.decode("application_id"), try row.decode("app_name"), try row.decode("name"))
            let generation: Int64 = try row.decode("generation")
            specs["\(id)#\(generation)"] = try? StoredJSON.decode(ServiceSpec.self, try row.decode("spec"))
            servicesByApp[try row.decode("application_id"), default: [:]][try row.decode("name")] =
                specs["\(id)#\(generation)"]?.networkAliases ?? []
            if let previous: Int64 = try row.decode("previous_generation"), let text: String = try row.decode("previous_spec") {
                specs["\(id)#\(previous)"] = try? StoredJSON.decode(ServiceSpec.self, text)
            }
        }
        var byNode: [String: [DesiredContainer]] = [:]
        var nextDue: Date?
        let rows = try connection.query("""
            SELECT c.id, c.tenant_id, c.service_id, c.slot::int8 AS slot, c.generation, c.node_id, c.desired_state,
                   c.not_before, c.not_before > now() AS held, host(c.ip_address) AS ip_address
            FROM containers c JOIN nodes n ON n.id = c.node_id
            WHERE n.cluster_id = $1 AND c.desired_state <> 'removed'
            ORDER BY c.node_id, c.id
            """, [clusterID])
        for row in rows {
            if try row.decode("held", as: Bool?.self) == true {
                let due: Date = try row.decode("not_before")
                nextDue = min(nextDue ?? due, due)
                continue
            }
            let generation: Int64 = try row.decode("generation")
            let serviceID: String = try row.decode("service_id")
            guard let name = names[serviceID] else { continue }
            // A generation the service no longer knows runs on its current spec until replaced.
            guard let spec = specs["\(serviceID)#\(generation)"] ?? specs.first(where: { $0.key.hasPrefix(serviceID + "#") })?.value else { continue }
            let nodeID: String = try row.decode("node_id")
            let id: String = try row.decode("id")
            let tenantID: String = try row.decode("tenant_id")
            let declared = declaredVolumes[name.app] ?? [:]
            // A container given an address at placement joins its node's caas network.
            let address: String? = try row.decode("ip_address")
            byNode[nodeID, default: []].append(DesiredContainer(
                containerId: id, tenantId: tenantID, appId: name.app,
                appName: name.appName, serviceName: name.service, slot: try row.decode("slot"),
                generation: generation, image: spec.image, command: spec.command, entrypoint: spec.entrypoint,
                environment: spec.environment, network: address != nil ? .caas : spec.desiredNetwork, ports: spec.desiredPorts,
                volumes: spec.volumes.map { DesiredVolume($0, declared: declared, tenantId: tenantID, appId: name.app) },
                limits: spec.resources.limits, labels: spec.labels, probe: spec.probe, healthcheck: spec.healthcheck,
                state: DesiredContainerState(rawValue: try row.decode("desired_state", as: String.self)) ?? .running,
                stopGracePeriodSeconds: spec.stopGracePeriodSeconds ?? 10, host: spec.host,
                process: spec.process, restart: spec.restart, address: address,
                names: address == nil ? nil : ServiceNames.names(services: servicesByApp[name.app] ?? [:], links: spec.links,
                                                                 externals: externalsByApp[name.app] ?? [:])))
        }
        // With node subnets, every node's engine has the cluster's caas network for its subnet.
        var networks: [String: DesiredNodeNetwork] = [:]
        if try cluster.decode("networking", as: String.self) == ClusterNetworking.nodeSubnets.rawValue {
            for row in try connection.query("SELECT id, subnet::text AS subnet FROM nodes WHERE cluster_id = $1", [clusterID]) {
                guard let subnet = IPv4Network(try row.decode("subnet", as: String.self)),
                      let gateway = ContainerAddressAllocator.gateway(of: subnet) else { continue }
                networks[try row.decode("id")] = DesiredNodeNetwork(name: ContainerAddressAllocator.networkName(clusterId: clusterID),
                                                                    subnet: subnet.description, gateway: gateway,
                                                                    nameServer: ContainerAddressAllocator.nameServer(of: subnet))
            }
        }
        let nodes = byNode.keys.sorted().map { DesiredNodeState(nodeId: $0, containers: byNode[$0]!, network: networks[$0]) }
        var removals: [VolumeRemoval] = []
        var settled: [String] = []
        for row in try connection.query("""
            SELECT r.tenant_id, r.application_id, NOT EXISTS (SELECT 1 FROM applications a WHERE a.id = r.application_id) AS gone
            FROM volume_removals r WHERE r.cluster_id = $1 ORDER BY r.application_id
            """, [clusterID]) {
            let appID: String = try row.decode("application_id")
            removals.append(VolumeRemoval(tenantId: try row.decode("tenant_id"), appId: appID))
            if try row.decode("gone", as: Bool.self) { settled.append(appID) }
        }
        return ClusterPush(
            tenantID: try cluster.decode("tenant_id"),
            state: DesiredClusterState(clusterId: clusterID, generation: try cluster.decode("desired_generation"), nodes: nodes,
                                       volumeRemovals: removals),
            pushedGeneration: try cluster.decode("pushed_generation"), settledVolumeRemovals: settled, nextDueAt: nextDue)
    }

    /// Forgets the volume removals of `applicationIDs` in `clusterID`: the agent applied a state
    /// listing them, read after the applications' containers were all gone, so it removed their
    /// volumes then.
    public func forgetVolumeRemovals(clusterID: String, applicationIDs: [String]) throws {
        guard !applicationIDs.isEmpty else { return }
        _ = try connection.execute("""
            DELETE FROM volume_removals WHERE cluster_id = $1 AND application_id = ANY($2::text[])
            """, [clusterID, applicationIDs])
    }

    /// Records that the agent accepted `generation` (never moves back: a stale pusher cannot),
    /// and how long the push took. Returns false when a newer generation was recorded already.
    @discardableResult
    public func recordPush(clusterID: String, generation: Int64, milliseconds: Int = 0) throws -> Bool {
        try connection.execute("""
            UPDATE clusters SET pushed_generation = GREATEST(pushed_generation, $2), pushed_at = now(), last_push_ms = $3
            WHERE id = $1
            """, [clusterID, generation, Int32(clamping: milliseconds)]) == 1
            && (try connection.query("SELECT pushed_generation FROM clusters WHERE id = $1", [clusterID]).first?
                .decode("pushed_generation", as: Int64.self)) == generation
    }

    /// Seconds until the cluster may be pushed again (0: now): pushes are spaced by twice the last
    /// one's duration.
    public func pushSpacing(clusterID: String) throws -> Double {
        guard let row = try connection.query("""
            SELECT GREATEST(0, EXTRACT(EPOCH FROM (pushed_at + make_interval(secs => 2 * last_push_ms / 1000.0) - now())))::float8 AS wait
            FROM clusters WHERE id = $1
            """, [clusterID]).first else { return 0 }
        return try row.decode("wait", as: Double?.self) ?? 0
    }

    /// The cluster's current desired generation (the fence a push checks before sending).
    public func desiredGeneration(clusterID: String) throws -> Int64? {
        try connection.query("SELECT desired_generation FROM clusters WHERE id = $1", [clusterID]).first?.decode("desired_generation")
    }
}

extension ServiceSpec {
    var desiredNetwork: DesiredNetwork {
        switch networkMode {
        case "none": .none
        case "bridge": .bridge
        default: .host
        }
    }

    /// Published ports resolved one by one; an unpublished port is served on its own number.
    var desiredPorts: [DesiredPort] {
        var ports: [DesiredPort] = []
        for mapping in self.ports {
            for offset in 0..<max(1, mapping.target.count) {
                let target = mapping.target.lower + offset
                let host = mapping.published.map { $0.lower + min(offset, $0.count - 1) } ?? target
                ports.append(DesiredPort(containerPort: target, hostPort: host, hostAddress: mapping.hostIP,
                                         protocol: mapping.target.protocol))
            }
        }
        return ports
    }
}
