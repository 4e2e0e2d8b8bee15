import CaaSModel

extension ContainerCreateBody {
    /// The engine's create request for a desired container: our labels, the environment,
    /// host networking or port bindings, mounts (named volumes by their engine names), cpu and memory limits,
    /// `Init` (so SIGTERM reaches the process), no engine restart policy (restarting is
    /// the control plane's decision), the host options the tenant's policy allowed
    /// (privileged, added capabilities, devices, host namespaces, lifted confinement) and the
    /// process options (user, read-only root, dropped capabilities, no new privileges, …).
    /// A `.caas` container joins its node's caas network at its fixed address (`network` names it).
    public init(_ desired: DesiredContainer, clusterId: String, network: DesiredNodeNetwork? = nil) {
        let env = desired.engineEnvironment
        var exposed: [String: EmptyObject]?
        var bindings: [String: [PortBinding]]?
        var endpoints: NetworkingConfig?
        let networkMode: String
        switch desired.network {
        case .host:
            networkMode = "host"
        case .none:
            networkMode = "none"
        case .caas:
            let name = network?.name ?? ContainerAddressAllocator.networkName(clusterId: clusterId)
            networkMode = name
            endpoints = NetworkingConfig(endpointsConfig: [
                // No network aliases: the engine's resolver would answer them to every container of
                // the node's network, other tenants' included. Names are the node name server's.
                name: .init(ipamConfig: desired.address.map { .init(ipv4Address: $0) }),
            ])
        case .bridge:
            networkMode = "bridge"
            if !desired.ports.isEmpty {
                var exposedPorts: [String: EmptyObject] = [:]
                var portBindings: [String: [PortBinding]] = [:]
                for port in desired.ports {
                    let key = "\(port.containerPort)/\(port.protocol.rawValue)"
                    exposedPorts[key] = EmptyObject()
                    portBindings[key, default: []].append(PortBinding(hostIp: port.hostAddress ?? "", hostPort: String(port.hostPort)))
                }
                exposed = exposedPorts
                bindings = portBindings
            }
        }
        let mounts = desired.volumes.map { volume -> Mount in
            let type: String
            switch volume.kind {
            case .volume, .anonymous: type = "volume"
            case .bind: type = "bind"
            case .tmpfs: type = "tmpfs"
            }
            // A named volume exists before the container (the executor made it with its driver);
            // an anonymous one is made by the engine with the mount's driver.
            var options: Mount.VolumeOptions?
            if volume.kind == .anonymous, volume.driver != nil || !volume.driverOptions.isEmpty {
                options = Mount.VolumeOptions(driverConfig: Mount.DriverConfig(name: volume.driver ?? "local", options: volume.driverOptions))
            }
            let source = volume.kind == .anonymous || volume.kind == .tmpfs ? nil : volume.source
            return Mount(type: type, source: source, target: volume.target, readOnly: volume.readOnly, volumeOptions: options)
        }
        let host = desired.host ?? HostOptions(), process = desired.process ?? ProcessOptions()
        let securityOptions = host.securityOptions + (process.noNewPrivileges ? ["no-new-privileges:true"] : [])
        self.init(
            image: desired.image,
            cmd: desired.command,
            entrypoint: desired.entrypoint,
            env: env,
            labels: ContainerLabels.labels(for: desired, clusterId: clusterId),
            exposedPorts: exposed,
            stopTimeout: Int(saturating: desired.stopGracePeriodSeconds.rounded(.up)),
            hostConfig: HostConfig(
                networkMode: networkMode,
                initProcess: true,
                nanoCpus: desired.limits.cpus.map { Int64(saturating: ($0 * 1_000_000_000).rounded()) },
                memory: desired.limits.memoryBytes,
                portBindings: bindings,
                mounts: mounts.isEmpty ? nil : mounts,
                restartPolicy: RestartPolicy(name: "no"),
                privileged: desired.host?.privileged == true ? true : nil,
                capAdd: desired.host.flatMap { $0.capAdd.isEmpty ? nil : $0.capAdd },
                devices: desired.host.flatMap { host in
                    host.devices.isEmpty ? nil : host.devices.map {
                        DeviceMapping(pathOnHost: $0.hostPath, pathInContainer: $0.containerPath, cgroupPermissions: $0.permissions)
                    }
                },
                pidMode: host.pid,
                ipcMode: host.ipc,
                utsMode: host.uts,
                usernsMode: host.userns,
                cgroupnsMode: host.cgroup,
                deviceCgroupRules: host.deviceCgroupRules.isEmpty ? nil : host.deviceCgroupRules,
                securityOpt: securityOptions.isEmpty ? nil : securityOptions,
                capDrop: process.capDrop.isEmpty ? nil : process.capDrop,
                readonlyRootfs: process.readOnlyRootFilesystem ? true : nil,
                pidsLimit: process.pidsLimit.map(Int64.init),
                sysctls: process.sysctls.isEmpty ? nil : process.sysctls,
                groupAdd: process.groupAdd.isEmpty ? nil : process.groupAdd,
                dns: desired.network == .caas ? network?.nameServer.map { [$0] } : nil
            ),
            user: process.user,
            workingDir: process.workingDir,
            stopSignal: process.stopSignal,
            networkingConfig: endpoints
        )
    }
}

extension DesiredContainer {
    /// The environment as the engine will keep it: `NAME=value` in order, bare names (no value)
    /// left out.
    var engineEnvironment: [String] {
        environment.compactMap { variable in variable.value.map { "\(variable.name)=\($0)" } }
    }
}
