import CaaSModel
import Foundation
import Testing

/// The host policy's decisions, on values: what a tenant may ask of the nodes.
@Suite struct HostPolicyTests {
    /// Allows every host path: only the engine socket rule is left.
    let everything = HostPolicy(bindPrefixes: ["/"])

    @Test func theStandardPolicyRefusesEveryHostBind() {
        for path in ["/", "/etc", "/srv/data", "/home/user/app", "/tmp"] {
            #expect(HostPolicy.standard.refusal(for: .bind(path)) != nil, "\(path)")
        }
        #expect(HostPolicy.standard.refusal(for: .bind("/"))?.contains("not allowed by the tenant's host policy") == false)
        #expect(HostPolicy.standard.refusal(for: .bind("/etc"))?.contains("it allows none") == true)
    }

    @Test(arguments: [
        "/var/run/docker.sock", "/run/docker.sock", "//var//run//docker.sock", "/var/run/docker.sock/",
        "/run/./docker.sock", "/var/run/../run/docker.sock", "/srv/../var/run/docker.sock", "/var/./run/docker.sock",
        "/", "//", "/.", "/..", "/run", "/run/", "/var", "/var/", "/var/run", "/var/run/", "/var/run//",
        "/srv/data/../../var", "/etc/../run", "/run/containerd/containerd.sock", "/run/containerd",
    ])
    func theEngineSocketAndItsParentsAreNeverMountable(path: String) throws {
        let reason = try #require(everything.refusal(for: .bind(path)), "\(path) was allowed")
        #expect(reason.contains("never mountable"), "\(reason)")
    }

    @Test func pathsNearTheSocketThatDoNotHoldItStayGoverned() {
        #expect(everything.refusal(for: .bind("/var/lib/app")) == nil)
        #expect(everything.refusal(for: .bind("/run/user/1000")) == nil)
        #expect(everything.refusal(for: .bind("/var/run/docker.socket-not")) == nil)
    }

    @Test func anAllowedPrefixAdmitsItselfAndWhatIsBelowItOnly() {
        let policy = HostPolicy(bindPrefixes: ["/srv/data"])
        #expect(policy.refusal(for: .bind("/srv/data")) == nil)
        #expect(policy.refusal(for: .bind("/srv/data/")) == nil)
        #expect(policy.refusal(for: .bind("/srv/data/www/html")) == nil)
        #expect(policy.refusal(for: .bind("/srv//data/./x")) == nil)
        #expect(policy.refusal(for: .bind("/srv/data/../data/x")) == nil)
        #expect(policy.refusal(for: .bind("/srv/database")) != nil)
        #expect(policy.refusal(for: .bind("/srv")) != nil)
        #expect(policy.refusal(for: .bind("/etc")) != nil)
    }

    @Test(arguments: ["/srv/data/../../etc", "/srv/data/../secret", "/srv/data/x/../../../etc/shadow", "/srv/data/../../"])
    func dotDotCannotEscapeAnAllowedPrefix(path: String) throws {
        let policy = HostPolicy(bindPrefixes: ["/srv/data"])
        let reason = try #require(policy.refusal(for: .bind(path)), "\(path) was allowed")
        #expect(reason.contains("not allowed") || reason.contains("never mountable"), "\(reason)")
    }

    @Test(arguments: ["./app", "../app", "~/x", "~", "app", "."])
    func relativeHostPathsAreRefusedWhateverThePolicy(path: String) throws {
        let reason = try #require(everything.refusal(for: .bind(path)))
        #expect(reason.contains("relative"), "\(reason)")
    }

    @Test func privilegedCapabilitiesDevicesAndHostNamespacesAreRefusedByDefault() {
        let standard = HostPolicy.standard
        #expect(standard.refusal(for: .privileged)?.contains("privileged mode is not allowed") == true)
        #expect(standard.refusal(for: .capability("NET_ADMIN"))?.contains("capability NET_ADMIN") == true)
        #expect(standard.refusal(for: .capability("ALL")) != nil)
        #expect(standard.refusal(for: .device("/dev/fuse"))?.contains("device '/dev/fuse'") == true)
        #expect(standard.refusal(for: .hostPID)?.contains("pid 'host'") == true)
        #expect(standard.refusal(for: .hostIPC)?.contains("ipc 'host'") == true)
    }

    @Test func hostNetworkAndExternalVolumesAreAllowedByDefaultAndCanBeForbidden() {
        #expect(HostPolicy.standard.refusal(for: .hostNetwork) == nil)
        #expect(HostPolicy.standard.refusal(for: .externalVolume("shared")) == nil)
        let strict = HostPolicy(hostNetwork: false, externalVolumes: false)
        #expect(strict.refusal(for: .hostNetwork)?.contains("the node's network (network_mode 'host', caas's default)") == true)
        #expect(strict.refusal(for: .externalVolume("shared"))?.contains("external volume 'shared'") == true)
    }

    @Test func whatThePolicyAllowsIsAllowed() {
        let policy = HostPolicy(privileged: true, capabilities: ["NET_ADMIN"], devicePrefixes: ["/dev/fuse", "/dev/snd"],
                                hostPID: true, hostIPC: true)
        #expect(policy.refusal(for: .privileged) == nil)
        #expect(policy.refusal(for: .capability("NET_ADMIN")) == nil)
        #expect(policy.refusal(for: .capability("SYS_ADMIN")) != nil)
        #expect(policy.refusal(for: .capability("ALL")) != nil, "allowing one capability does not allow ALL")
        #expect(policy.refusal(for: .device("/dev/fuse")) == nil)
        #expect(policy.refusal(for: .device("/dev/snd/pcmC0D0p")) == nil)
        #expect(policy.refusal(for: .device("/dev/sda")) != nil)
        #expect(policy.refusal(for: .device("/dev/snd/../sda")) != nil)
        #expect(policy.refusal(for: .hostPID) == nil)
        #expect(policy.refusal(for: .hostIPC) == nil)
        #expect(HostPolicy(capabilities: ["ALL"]).refusal(for: .capability("SYS_ADMIN")) == nil)
        #expect(HostPolicy(capabilities: ["ALL"]).refusal(for: .capability("ALL")) == nil)
    }

    @Test func normalisationResolvesDotsSlashesAndTrailingSlashes() {
        #expect(HostPath.normalized("/srv/data/../../etc/") == "/etc")
        #expect(HostPath.normalized("//") == "/")
        #expect(HostPath.normalized("/../..") == "/")
        #expect(HostPath.normalized("/a//b/./c/") == "/a/b/c")
        #expect(HostPath.normalized("./a") == nil)
        #expect(HostPath.normalized("~/a") == nil)
        #expect(HostPath.isWithin("/srv/data/x", "/srv/data/"))
        #expect(!HostPath.isWithin("/srv/database", "/srv/data"))
    }

    @Test func aPolicyWithBadValuesNamesEachField() {
        let policy = HostPolicy(bindPrefixes: ["/srv/data", "srv/relative", "/srv/../etc"], capabilities: ["NET_ADMIN", "cap_sys_time", "FLY"],
                                devicePrefixes: ["dev/fuse"])
        #expect(policy.problems.map(\.field) == ["/bind_prefixes/1", "/bind_prefixes/2", "/device_prefixes/0", "/capabilities/2"])
        #expect(policy.problems.first?.message == "'srv/relative' is not an absolute path")
        #expect(HostPolicy(bindPrefixes: ["/srv/data/"], capabilities: ["cap_net_admin", "NET_ADMIN", "all"]).canonical
            == HostPolicy(bindPrefixes: ["/srv/data"], capabilities: ["NET_ADMIN", "ALL"]))
    }

    @Test func anEmptyStoredPolicyIsTheStandardOneAndTheJSONUsesSnakeCase() throws {
        #expect(try JSONDecoder().decode(HostPolicy.self, from: Data("{}".utf8)) == .standard)
        let policy = HostPolicy(bindPrefixes: ["/srv"], privileged: true, hostPID: true)
        let text = String(decoding: try JSONEncoder().encode(policy), as: UTF8.self)
        #expect(text.contains("\"bind_prefixes\""))
        #expect(text.contains("\"host_pid\":true"))
        #expect(try JSONDecoder().decode(HostPolicy.self, from: Data(text.utf8)) == policy)
    }
}
