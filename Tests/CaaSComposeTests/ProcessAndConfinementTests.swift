import CaaSCompose
import CaaSModel
import Foundation
import Testing

/// The compose keys that were "ignored" with a warning and now are features or refusals (issue 11
/// items 4 and 7): how a service's processes run (`user`, `read_only`, `cap_drop`,
/// `no-new-privileges`, …) reaches the spec; what lifts confinement (`security_opt`
/// unconfined, `uts`/`userns_mode`/`cgroup: host`, `device_cgroup_rules`) is host access the
/// policy rules on like privileged mode; what would reach the node (`use_api_socket`, a sysctl
/// of the whole node) is refused at its line.
@Suite struct ProcessAndConfinementTests {
    @Test func processOptionsReachTheSpecWithoutWarnings() throws {
        let (spec, result) = try parseValid("""
        services:
          api:
            image: busybox
            network_mode: bridge
            user: "1000:1000"
            group_add: [audio, 44]
            working_dir: /srv
            stop_signal: int
            read_only: true
            cap_drop: [ALL, cap_net_raw]
            security_opt: ["no-new-privileges:true"]
            pids_limit: 64
            sysctls:
              net.core.somaxconn: 1024
              kernel.shmmax: "68719476736"
        """)
        #expect(result.warnings.isEmpty, "\(result.warnings)")
        #expect(svc(spec, "api").process == ProcessOptions(
            user: "1000:1000", groupAdd: ["audio", "44"], workingDir: "/srv", stopSignal: "SIGINT",
            readOnlyRootFilesystem: true, capDrop: ["ALL", "NET_RAW"], noNewPrivileges: true, pidsLimit: 64,
            sysctls: ["net.core.somaxconn": "1024", "kernel.shmmax": "68719476736"]))
        #expect(svc(spec, "api").host == nil, "giving things up is no host access")
        #expect(result.hostAccess.isEmpty, "\(result.hostAccess)")
        #expect(try parseValid("services:\n  web:\n    image: nginx\n    pids_limit: -1\n").0.services[0].process == nil)
    }

    @Test func noneOfTheseKeysIsIgnoredAnyMore() {
        let result = ComposeParser.parse("""
        services:
          web:
            image: nginx
            user: nobody
            read_only: false
            cap_drop: [NET_RAW]
            security_opt: [no-new-privileges]
            uts: ""
            cgroup: private
            use_api_socket: false
        """)
        #expect(result.isValid, "\(result.diagnostics)")
        #expect(!result.diagnostics.contains { $0.message.contains("ignored") }, "\(result.diagnostics)")
    }

    @Test func whatLiftsConfinementIsDeclaredAtItsLineAndRuledLikePrivilegedMode() {
        let text = """
        services:
          tool:
            image: busybox
            network_mode: none
            security_opt:
              - seccomp:unconfined
              - apparmor=unconfined
              - label=disable
              - no-new-privileges
            uts: host
            userns_mode: host
            cgroup: host
            device_cgroup_rules: ["c 10:229 rwm"]
        """
        let result = ComposeParser.parse(text)
        let declared = result.hostAccess.map { "\($0.line ?? 0) \($0.access)" }
        #expect(declared == [
            #"10 unconfined("uts \'host\'")"#, #"11 unconfined("userns_mode \'host\'")"#, #"12 unconfined("cgroup \'host\'")"#,
            #"13 unconfined("device_cgroup_rules \'c 10:229 rwm\'")"#,
            #"6 unconfined("security_opt \'seccomp:unconfined\'")"#, #"7 unconfined("security_opt \'apparmor=unconfined\'")"#,
            #"8 unconfined("security_opt \'label=disable\'")"#,
        ], "\(declared)")
        let refused = result.checked(against: .standard)
        #expect(refused.errors.map(\.line) == [6, 7, 8, 10, 11, 12, 13], "\(refused.errors)")
        #expect(refused.errors[0].message == "security_opt 'seccomp:unconfined' lifts the container's confinement: allowed only where the tenant's host policy allows privileged mode")
        let allowed = result.checked(against: HostPolicy(privileged: true))
        #expect(allowed.isValid, "\(allowed.diagnostics)")
        let host = allowed.spec?.services.first?.host
        #expect(host == HostOptions(securityOptions: ["seccomp=unconfined", "apparmor=unconfined", "label=disable"],
                                    uts: "host", userns: "host", cgroup: "host", deviceCgroupRules: ["c 10:229 rwm"]), "\(String(describing: host))")
        #expect(allowed.spec?.services.first?.process?.noNewPrivileges == true)
    }

    @Test func whatWouldReachTheNodeIsRefusedOrNotAppliedAtItsLineWhateverThePolicy() {
        let result = ComposeParser.parse("""
        services:
          web:
            image: nginx
            use_api_socket: true
            sysctls:
              net.ipv4.ip_forward: 1
              kernel.panic: 10
              vm.swappiness: 0
          ipc:
            image: nginx
            network_mode: none
            ipc: host
            sysctls: ["kernel.shmmax=1", "net.core.somaxconn=10", "fs.mqueue.msg_max=20"]
        """)
        let errors = result.errors.map { "\($0.line ?? 0) \($0.path): \($0.message)" }
        #expect(errors.count == 3, "\(errors)")
        #expect(errors.contains("4 services.web.use_api_socket: use_api_socket would hand the container the engine's socket, and with it the whole node: never allowed"), "\(errors)")
        #expect(errors.contains { $0.hasPrefix(#"7 services.web.sysctls["kernel.panic"]: "# + "sysctl 'kernel.panic' is kept by the kernel for the whole node") }, "\(errors)")
        #expect(errors.contains { $0.hasPrefix(#"8 services.web.sysctls["vm.swappiness"]: sysctl 'vm.swappiness' is kept"#) }, "\(errors)")
        // What the namespace shared with the node would change is not applied, and said so.
        let warnings = result.warnings.map { "\($0.line ?? 0) \($0.path): \($0.message)" }
        #expect(warnings.contains { $0.hasPrefix(#"6 services.web.sysctls["net.ipv4.ip_forward"]: "# + "sysctl 'net.ipv4.ip_forward' is not applied: the service runs on the node's network") }, "\(warnings)")
        #expect(warnings.contains { $0.hasPrefix("13 services.ipc.sysctls[0]: sysctl 'kernel.shmmax' is not applied: the service shares the node's IPC namespace") }, "\(warnings)")
        #expect(warnings.contains { $0.hasPrefix("13 services.ipc.sysctls[2]: sysctl 'fs.mqueue.msg_max' is not applied") }, "\(warnings)")
        let policyAllowingAll = HostPolicy(bindPrefixes: ["/"], privileged: true, capabilities: ["ALL"], devicePrefixes: ["/"], hostPID: true, hostIPC: true)
        #expect(!result.checked(against: policyAllowingAll).isValid)

        // Alone, the namespaced ones leave a valid file whose spec does not carry them.
        let (spec, alone) = try! parseValid("services:\n  vpn:\n    image: wg\n    sysctls: [net.ipv4.conf.all.src_valid_mark=1]\n")
        #expect(alone.warnings.count == 1 && spec.services[0].process == nil)
    }

    @Test func badValuesAreErrorsAtTheirLine() {
        let result = ComposeParser.parse("""
        services:
          web:
            image: nginx
            user: "root:wheel:extra"
            group_add: ["a b"]
            working_dir: srv
            stop_signal: SIGNOPE
            read_only: maybe
            cap_drop: [FLY]
            security_opt: ["seccomp=/etc/profile.json", "mask=/proc", "no-new-privileges:perhaps", "apparmor="]
            pids_limit: 5000000
            uts: private
            userns_mode: "container:db"
            cgroup: shared
            device_cgroup_rules: ["x 1:3 rwm", "c 1:3 rwx"]
        """)
        #expect(result.spec == nil)
        let errors = result.errors.map { "\($0.line ?? 0) \($0.path): \($0.message)" }
        #expect(errors.contains { $0.hasPrefix("4 services.web.user: 'root:wheel:extra' is not a user") }, "\(errors)")
        #expect(errors.contains { $0.hasPrefix("5 services.web.group_add[0]: 'a b' is not a group") }, "\(errors)")
        #expect(errors.contains("6 services.web.working_dir: working_dir 'srv' must be an absolute path in the container"), "\(errors)")
        #expect(errors.contains("7 services.web.stop_signal: 'SIGNOPE' is not a signal (like SIGTERM or SIGINT)"), "\(errors)")
        #expect(errors.contains { $0.hasPrefix("8 services.web.read_only: expected a boolean") }, "\(errors)")
        #expect(errors.contains { $0.hasPrefix("9 services.web.cap_drop[0]: 'FLY' is not a Linux capability") }, "\(errors)")
        #expect(errors.contains { $0.hasPrefix("10 services.web.security_opt[0]: 'seccomp=/etc/profile.json': seccomp profiles from files are not supported") }, "\(errors)")
        #expect(errors.contains { $0.hasPrefix("10 services.web.security_opt[1]: 'mask=/proc' is not a security option caas knows") }, "\(errors)")
        #expect(errors.contains { $0.hasPrefix("10 services.web.security_opt[2]: 'no-new-privileges:perhaps': no-new-privileges takes true or false") }, "\(errors)")
        #expect(errors.contains { $0.hasPrefix("10 services.web.security_opt[3]: 'apparmor=': apparmor needs a profile name") }, "\(errors)")
        #expect(errors.contains("11 services.web.pids_limit: 5000000 is out of range (-1…4194304)"), "\(errors)")
        #expect(errors.contains("12 services.web.uts: uts 'private' is not supported by caas (only 'host')"), "\(errors)")
        #expect(errors.contains("13 services.web.userns_mode: userns_mode 'container:db' is not supported by caas (only 'host')"), "\(errors)")
        #expect(errors.contains("14 services.web.cgroup: cgroup 'shared' is not supported (expected host or private)"), "\(errors)")
        #expect(errors.contains { $0.hasPrefix("15 services.web.device_cgroup_rules[0]: 'x 1:3 rwm' is not a device cgroup rule") }, "\(errors)")
        #expect(errors.contains { $0.hasPrefix("15 services.web.device_cgroup_rules[1]: 'c 1:3 rwx' is not a device cgroup rule") }, "\(errors)")
        #expect(errors.count == 16, "\(errors)")
    }

    @Test func aSpecStoredBeforeTheseOptionsExistedStillDecodes() throws {
        let old = #"{"privileged":true,"capAdd":["NET_ADMIN"],"devices":[],"pid":null}"#
        let host = try JSONDecoder().decode(HostOptions.self, from: Data(old.utf8))
        #expect(host == HostOptions(privileged: true, capAdd: ["NET_ADMIN"]))
        let process = try JSONDecoder().decode(ProcessOptions.self, from: Data(#"{"user":"1"}"#.utf8))
        #expect(process == ProcessOptions(user: "1"))
    }
}
