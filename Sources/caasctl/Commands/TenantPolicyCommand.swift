import ArgumentParser
import CaaSClient
import Foundation

extension TenantCommand {
    /// `caasctl tenant policy get|set`: a tenant's host policy (`/v1/tenants/{id}/policy`).
    struct Policy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show or replace a tenant's host policy: what its containers may ask of the nodes.",
            discussion: """
                By default a tenant may bind-mount no host path and use no privileged mode, added
                capability, device, host PID or IPC namespace; host networking and external volumes
                are allowed. --allow-privileged also allows what lifts confinement as much
                (security_opt seccomp=unconfined, apparmor, label; uts, userns_mode or cgroup host;
                device_cgroup_rules). The engine socket is never mountable, nor use_api_socket.
                Compose text that asks for more
                than the policy allows is refused at validation and deployment, at its line.

                Example:
                  caasctl tenant policy get acme
                  caasctl tenant policy set acme --bind-prefix /srv/data --cap-add NET_ADMIN
                  caasctl tenant policy set acme --file policy.json
                """,
            subcommands: [Get.self, Replace.self])

        static func path(_ session: Session, tenant: String?) async throws -> String {
            let id: String
            if let tenant { id = try await session.client.resolveID(.tenant, tenant) } else { id = try await session.client.currentTenant().id }
            return ResourceKind.tenant.path(id) + "/policy"
        }

        struct Get: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Show a tenant's host policy (your own tenant's without a name; tenant admins or the system administrator).",
                discussion: "Example:\n  caasctl tenant policy get acme -o json")

            @OptionGroup var global: GlobalOptions
            @Argument(help: "The tenant's name or id.") var tenant: String?

            func run() async throws {
                let session = try Session.make(global)
                session.inspect(try await session.client.send(.get, try await Policy.path(session, tenant: tenant)).json())
            }
        }

        struct Replace: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "set",
                abstract: "Replace a tenant's host policy (system administrator): what is not given takes its default.",
                discussion: """
                    Example:
                      caasctl tenant policy set acme --bind-prefix /srv/data --bind-prefix /mnt/shared
                      caasctl tenant policy set acme --allow-privileged --cap-add SYS_ADMIN --device-prefix /dev/fuse
                      caasctl tenant policy set acme --no-host-network --no-external-volumes
                      caasctl tenant policy set acme --file policy.json
                      caasctl tenant policy set acme      # back to the defaults
                    """)

            @OptionGroup var global: GlobalOptions
            @Argument(help: "The tenant's name or id.") var tenant: String
            @Option(name: [.customLong("file"), .customShort("f")], help: ArgumentHelp("The whole policy as JSON (the API's document).", valueName: "path"))
            var file: String?
            @Option(name: .customLong("bind-prefix"), help: ArgumentHelp("A host path at or below which binds are allowed; repeatable.", valueName: "path"))
            var bindPrefixes: [String] = []
            @Option(name: .customLong("device-prefix"), help: ArgumentHelp("A host path at or below which devices are allowed; repeatable.", valueName: "path"))
            var devicePrefixes: [String] = []
            @Option(name: .customLong("cap-add"), help: ArgumentHelp("A capability cap_add may name (or ALL); repeatable.", valueName: "name"))
            var capabilities: [String] = []
            @Flag(name: .customLong("allow-privileged"), help: "Allow privileged: true, and security_opt, uts/userns_mode/cgroup host and device_cgroup_rules that lift confinement.") var privileged = false
            @Flag(name: .customLong("allow-host-pid"), help: "Allow pid: host.") var hostPID = false
            @Flag(name: .customLong("allow-host-ipc"), help: "Allow ipc: host.") var hostIPC = false
            @Flag(name: .customLong("no-host-network"), help: "Refuse the node's network (network_mode host, or none given): services must ask for bridge or none.") var noHostNetwork = false
            @Flag(name: .customLong("no-external-volumes"), help: "Refuse external: true volumes.") var noExternalVolumes = false

            var usesFlags: Bool {
                !bindPrefixes.isEmpty || !devicePrefixes.isEmpty || !capabilities.isEmpty || privileged || hostPID || hostIPC
                    || noHostNetwork || noExternalVolumes
            }

            func validate() throws {
                if file != nil && usesFlags { throw ValidationError("give --file or the policy options, not both") }
            }

            /// The document to PUT.
            func body() throws -> JSON {
                if let file {
                    let data: Data
                    do { data = try Data(contentsOf: URL(fileURLWithPath: file)) } catch {
                        throw ValidationError("--file \(file): \(error.localizedDescription)")
                    }
                    guard let value = try? JSONDecoder().decode(JSON.self, from: data), value.objectValue != nil else {
                        throw ValidationError("--file \(file): not a JSON object")
                    }
                    return value
                }
                return .object([
                    "bind_prefixes": .array(bindPrefixes.map(JSON.string)),
                    "device_prefixes": .array(devicePrefixes.map(JSON.string)),
                    "capabilities": .array(capabilities.map(JSON.string)),
                    "privileged": .bool(privileged),
                    "host_pid": .bool(hostPID),
                    "host_ipc": .bool(hostIPC),
                    "host_network": .bool(!noHostNetwork),
                    "external_volumes": .bool(!noExternalVolumes),
                ])
            }

            func run() async throws {
                let session = try Session.make(global)
                let body = try body()
                let answer = try await session.client.send(.put, try await Policy.path(session, tenant: tenant), body: body)
                session.inspect(try answer.json())
            }
        }
    }
}
