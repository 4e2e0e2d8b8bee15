import CaaSCompose
import CaaSModel
import Testing

/// Host access in compose: `privileged`, `cap_add`, `devices`, `pid`, `ipc` are features, and every
/// host access is declared with its position so a tenant's policy can refuse it at its line.
@Suite struct HostAccessTests {
    @Test func hostOptionsReachTheSpecWithoutWarnings() throws {
        let (spec, result) = try parseValid("""
        services:
          tool:
            image: busybox
            privileged: true
            cap_add: [CAP_NET_ADMIN, sys_time, NET_ADMIN]
            devices:
              - /dev/fuse
              - "/dev/snd:/dev/sound:rw"
            pid: host
            ipc: host
        """)
        #expect(result.warnings.isEmpty, "\(result.warnings)")
        #expect(svc(spec, "tool").host == HostOptions(
            privileged: true, capAdd: ["NET_ADMIN", "SYS_TIME"],
            devices: [DeviceMapping(hostPath: "/dev/fuse"), DeviceMapping(hostPath: "/dev/snd", containerPath: "/dev/sound", permissions: "rw")],
            pid: "host", ipc: "host"))
        #expect(try parseValid("services:\n  web:\n    image: nginx\n").0.services[0].host == nil)
    }

    @Test func everyHostAccessIsDeclaredAtItsLine() {
        let result = ComposeParser.parse("""
        services:
          web:
            image: nginx
            network_mode: host
            volumes:
              - /:/host
              - data:/data
              - type: bind
                source: ./app
                target: /app
            privileged: true
            cap_add: [NET_ADMIN]
            devices: ["/dev/fuse"]
            pid: host
            ipc: host
        volumes:
          data:
            external: true
        """)
        let declared = result.hostAccess.sorted { ($0.line ?? 0) < ($1.line ?? 0) }.map { "\($0.line ?? 0) \($0.path) \($0.access)" }
        #expect(declared == [
            "4 services.web.network_mode hostNetwork",
            "6 services.web.volumes[0] bind(\"/\")",
            "8 services.web.volumes[2] bind(\"./app\")",
            "11 services.web.privileged privileged",
            "12 services.web.cap_add[0] capability(\"NET_ADMIN\")",
            "13 services.web.devices[0] device(\"/dev/fuse\")",
            "14 services.web.pid hostPID",
            "15 services.web.ipc hostIPC",
            "18 volumes.data.external externalVolume(\"data\")",
        ], "\(declared)")
    }

    @Test func theNodesNetworkIsDeclaredWhetherWrittenOrNot() {
        let result = ComposeParser.parse("""
        services:
          implicit:
            image: nginx
          explicit:
            image: nginx
            network_mode: host
          shared:
            image: nginx
            network_mode: "service:implicit"
          bridged:
            image: nginx
            network_mode: bridge
          isolated:
            image: nginx
            network_mode: none
        """)
        #expect(result.hostAccess.map { "\($0.line ?? 0) \($0.path)" } == ["3 services.implicit", "6 services.explicit.network_mode", "9 services.shared.network_mode"])
        let refused = result.checked(against: HostPolicy(hostNetwork: false))
        #expect(refused.errors.count == 3)
        #expect(refused.errors.first?.message.contains("give network_mode 'bridge' or 'none'") == true, "\(refused.errors)")
    }

    @Test func theParserAloneStillAcceptsHostBinds() throws {
        // The corpus and templates parse as they always did; the policy is the tenant's, applied on top.
        let (spec, _) = try parseValid("services:\n  web:\n    image: nginx\n    volumes: ['/:/host', './app:/app']\n")
        #expect(spec.services[0].volumes.map(\.kind) == [.bind, .bind])
    }

    @Test func aRefusedBindIsAnErrorAtItsComposeLine() {
        let result = ComposeParser.parse("""
        services:
          web:
            image: nginx
            volumes:
              - /srv/data:/data
              - /:/host
              - /var/run/docker.sock:/var/run/docker.sock
              - ./app:/app
        """).checked(against: HostPolicy(bindPrefixes: ["/srv/data"]))
        #expect(result.spec == nil)
        let errors = result.errors.map { "\($0.line ?? 0):\($0.column ?? 0) \($0.path): \($0.message)" }
        #expect(errors.count == 3, "\(errors)")
        #expect(errors[0].hasPrefix("6:9 services.web.volumes[1]: host path '/' would expose the engine socket"), "\(errors)")
        #expect(errors[1].hasPrefix("7:9 services.web.volumes[2]: host path '/var/run/docker.sock' would expose the engine socket"), "\(errors)")
        #expect(errors[2].hasPrefix("8:9 services.web.volumes[3]: host path './app' is relative"), "\(errors)")
    }

    @Test func whatThePolicyAllowsStaysValid() throws {
        let text = """
        services:
          web:
            image: nginx
            volumes: ["/srv/data/www:/usr/share/nginx/html:ro"]
            privileged: true
            cap_add: [NET_ADMIN]
        """
        let refused = ComposeParser.parse(text).checked(against: .standard)
        #expect(refused.errors.map(\.line) == [4, 5, 6])
        let allowed = ComposeParser.parse(text).checked(against: HostPolicy(bindPrefixes: ["/srv/data"], privileged: true, capabilities: ["NET_ADMIN"]))
        #expect(allowed.isValid, "\(allowed.diagnostics)")
    }

    @Test func aLocalVolumeThatBindsOrMountsAHostPathIsHostAccessAtItsDeviceLine() {
        let result = ComposeParser.parse("""
        services:
          web:
            image: nginx
            volumes: ["root:/host", "disk:/disk", "scratch:/tmp/s", "share:/nfs"]
        volumes:
          root:
            driver_opts:
              type: none
              o: bind
              device: /
          disk:
            driver: local
            driver_opts: {type: ext4, device: /dev/sda1}
          scratch:
            driver_opts: {type: tmpfs, device: tmpfs, o: "size=1m"}
          share:
            driver_opts: {type: nfs, o: "addr=10.0.0.1,rw", device: ":/export"}
        """)
        let mounts = result.hostAccess.filter { $0.access != .hostNetwork }
        #expect(mounts.map(\.access) == [.bind("/"), .device("/dev/sda1")])
        #expect(mounts.map(\.line) == [10, 13])
        let checked = result.checked(against: .standard)
        #expect(checked.errors.map(\.line) == [10, 13], "\(checked.errors)")
        #expect(checked.errors.first?.message.contains("never mountable") == true)
    }

    @Test func badHostOptionsAreErrorsAtTheirLine() {
        let result = ComposeParser.parse("""
        services:
          web:
            image: nginx
            cap_add: [FLY]
            devices: ["dev/fuse", "/dev/fuse:/dev/fuse:rwx", "nvidia.com/gpu=all"]
            pid: "service:db"
            ipc: "container:db"
            privileged: sometimes
        """)
        let errors = result.errors.map { "\($0.line ?? 0) \($0.path): \($0.message)" }
        #expect(errors.contains("4 services.web.cap_add[0]: 'FLY' is not a Linux capability (like NET_ADMIN, or ALL)"), "\(errors)")
        #expect(errors.contains { $0.hasPrefix("5 services.web.devices[0]: 'dev/fuse' is not a device") }, "\(errors)")
        #expect(errors.contains { $0.hasPrefix("5 services.web.devices[1]: '/dev/fuse:/dev/fuse:rwx': device permissions") }, "\(errors)")
        #expect(errors.contains { $0.hasPrefix("5 services.web.devices[2]: 'nvidia.com/gpu=all' is not a device") }, "\(errors)")
        #expect(errors.contains("6 services.web.pid: pid 'service:db' is not supported by caas (only 'host')"), "\(errors)")
        #expect(errors.contains { $0.hasPrefix("7 services.web.ipc: ipc 'container:db' is not supported") }, "\(errors)")
        #expect(errors.contains { $0.hasPrefix("8 services.web.privileged:") }, "\(errors)")
    }
}
