import CaaSModel

/// Keeps one node's name server: a system container (`caas-dns-<cluster>`, label `caas.dns`,
/// not `caas.cluster`, so the executor never takes it for a tenant's) of the name server image
/// on the node's caas network at the network's name-server address, and the cluster's records
/// in it (`/records`, written only when they changed). A container found with another image or
/// address is replaced; one removed or stopped is made or started again within
/// `recheckEvery`.
actor NameServerKeeper {
    static let label = "caas.dns"
    static let addressLabel = "caas.dns.address"

    let nodeId: String
    let clusterId: String
    let engine: EngineClient
    let image: NameServerImage
    /// `nil`: the resolvers of the server's own resolv.conf (the engine's); empty: none.
    let upstreams: [String]?
    private var container: (engineId: String, network: DesiredNodeNetwork)?
    private var started = false
    private var published: String?
    private var imported = false
    /// When the container was last seen running (it is looked at again every `recheckEvery`).
    private var seenAt: ContinuousClock.Instant?
    static let recheckEvery: Duration = .seconds(5)

    init(nodeId: String, clusterId: String, engine: EngineClient, image: NameServerImage, upstreams: [String]?) {
        self.nodeId = nodeId
        self.clusterId = clusterId
        self.engine = engine
        self.image = image
        self.upstreams = upstreams
    }

    var containerName: String { "caas-dns-" + clusterId }

    /// The records are in the node's running name server (made, replaced or started as needed).
    func publish(_ records: String, network: DesiredNodeNetwork) async throws(EngineError) {
        guard let address = network.nameServer else { return }
        // Removed or stopped behind the agent's back: made or started again.
        if let known = container, started, let seenAt, ContinuousClock.now - seenAt >= Self.recheckEvery {
            let running: Bool
            do throws(EngineError) {
                running = try await engine.inspectContainer(known.engineId).state.running
            } catch .notFound {
                running = false
                forget()
            }
            if running { self.seenAt = .now } else { started = false }
        }
        if container?.network != network {
            try await ensureContainer(network, address: address)
        }
        guard let engineId = container?.engineId else { return }
        if published != records {
            do {
                try await engine.putArchive(engineId, path: "/", TarArchive.archive([TarArchive.File(path: "records", contents: Array(records.utf8))]))
            } catch {
                forget()
                throw error
            }
            published = records
        }
        if !started {
            do { try await engine.startContainer(engineId) } catch {
                forget()
                throw error
            }
            started = true
            seenAt = .now
        }
    }

    /// Forgets what it knew of the container (gone, or an engine error): the next publication
    /// looks again.
    func forget() {
        container = nil
        started = false
        published = nil
    }

    private func ensureContainer(_ network: DesiredNodeNetwork, address: String) async throws(EngineError) {
        if !imported {
            if try await !engine.hasImage(image.reference) {
                try await engine.importImage(.tar(image.archive), repository: NameServerImage.repository, tag: image.tag)
            }
            imported = true
        }
        do {
            let existing = try await engine.inspectContainer(containerName)
            let labels = existing.config.labels ?? [:]
            if labels[Self.label] == clusterId, labels[Self.addressLabel] == address, existing.config.image == image.reference {
                container = (existing.id, network)
                started = existing.state.running
                seenAt = .now
                published = nil
                return
            }
            try await engine.removeContainer(existing.id, force: true)
        } catch .notFound {}
        let id = try await engine.createContainer(name: containerName, body: body(network, address: address))
        container = (id, network)
        started = false
        published = nil
    }

    /// The server's container: the binary as its only process, on the caas network at `address`,
    /// with every capability dropped but binding port 53, small limits, restarted by the engine
    /// if it exits (it has no control plane state to lose).
    func body(_ network: DesiredNodeNetwork, address: String) -> ContainerCreateBody {
        var command = [NameServerImage.executable, "--listen", "0.0.0.0:53", "--records", "/records"]
        if let upstreams {
            command += upstreams.isEmpty ? ["--upstream", "none"] : upstreams.flatMap { ["--upstream", $0] }
        }
        return ContainerCreateBody(
            image: image.reference,
            cmd: command,
            entrypoint: nil,
            env: [],
            labels: [Self.label: clusterId, Self.addressLabel: address],
            exposedPorts: nil,
            stopTimeout: 2,
            hostConfig: ContainerCreateBody.HostConfig(
                networkMode: network.name,
                initProcess: false,
                nanoCpus: 500_000_000,
                memory: 64 << 20,
                restartPolicy: ContainerCreateBody.RestartPolicy(name: "always"),
                capAdd: ["NET_BIND_SERVICE"],
                securityOpt: ["no-new-privileges:true"],
                capDrop: ["ALL"],
                pidsLimit: 16
            ),
            networkingConfig: ContainerCreateBody.NetworkingConfig(endpointsConfig: [
                network.name: .init(ipamConfig: .init(ipv4Address: address)),
            ])
        )
    }
}
