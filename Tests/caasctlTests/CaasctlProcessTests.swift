import CaaSClient
import Foundation
import Testing

/// One server and one tenant for the whole suite, started on first use.
actor Fixture {
    static let shared = Fixture()

    struct World: Sendable {
        let server: LiveServer
        let home: CaasctlHome
        let tokens: [String: String]
        var admin: [String: String] { ["CAAS_SERVER": server.url, "CAAS_TOKEN": tokens["admin"]!] }
        func environment(_ role: String) -> [String: String] { ["CAAS_SERVER": server.url, "CAAS_TOKEN": tokens[role]!] }
    }

    private var world: Task<World, Error>?

    func get() async throws -> World {
        if world == nil {
            world = Task {
                let server = try await LiveServer.start("caasctl")
                let home = CaasctlHome()
                let tokens = try server.makeTenant("acme", home: home)
                let cluster = try home.run(["cluster", "create", "prod", "--network", "10.42.0.0/16", "--label", "env=prod"],
                                           environment: ["CAAS_SERVER": server.url, "CAAS_TOKEN": tokens["admin"]!])
                precondition(cluster.status == 0, "cluster create failed: \(cluster.stderr)")
                return World(server: server, home: home, tokens: tokens)
            }
        }
        return try await world!.value
    }
}

/// A directory holding a compose file under a name, for `up` and friends.
func project(_ home: CaasctlHome, _ name: String, compose: String) throws -> String {
    let directory = home.directory + "/" + name
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try compose.write(toFile: directory + "/compose.yml", atomically: true, encoding: .utf8)
    return directory
}

let wordpressCompose = "/work/shared/compose/wordpress-mysql.yml"

@Suite(.serialized) struct CaasctlProcessTests {
    // MARK: Contexts

    @Test func loginVerifiesTheTokenAndSavesAContextWithMode0600() async throws {
        let world = try await Fixture.shared.get()
        let home = CaasctlHome()
        defer { home.remove() }
        let bad = try home.run(["login", "--server", world.server.url, "--token", "caas_wrong", "--name", "lab"])
        #expect(bad.status == 5)
        #expect(bad.stderr.contains("Authentication required"))
        #expect(!FileManager.default.fileExists(atPath: home.configPath))

        let good = try home.run(["login", "--server", world.server.url, "--token", world.tokens["viewer"]!, "--name", "lab"])
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stdout.contains("tenant acme"))
        let attributes = try FileManager.default.attributesOfItem(atPath: home.configPath)
        #expect(attributes[.posixPermissions] as? Int == 0o600)
        let directory = try FileManager.default.attributesOfItem(atPath: home.directory + "/config/caas")
        #expect(directory[.posixPermissions] as? Int == 0o700)

        // The saved context is used without flags; CAAS_SERVER overrides it.
        let listed = try home.run(["cluster", "ls", "-q"])
        #expect(listed.status == 0 && listed.stdout.hasPrefix("clu_"), "\(listed.stderr)")
        let overridden = try home.run(["cluster", "ls"], environment: ["CAAS_SERVER": "http://127.0.0.1:1"])
        #expect(overridden.status == 1 && overridden.stderr.contains("cannot reach the caas server at http://127.0.0.1:1"))

        let contexts = try home.run(["context", "ls"])
        #expect(contexts.stdout.contains("*         lab") || contexts.stdout.contains("*"), "\(contexts.stdout)")
        #expect(!contexts.stdout.contains(world.tokens["viewer"]!))
        #expect(try home.run(["context", "use", "nope"]).status == 3)
        #expect(try home.run(["context", "rm", "lab"]).status == 0)
        #expect(try home.run(["cluster", "ls"]).status == 2)
    }

    // MARK: Resources and output formats

    @Test func clustersListAsTablesJSONYAMLAndIds() async throws {
        let world = try await Fixture.shared.get()
        let table = try world.home.run(["cluster", "ls"], environment: world.admin)
        #expect(table.status == 0)
        let lines = table.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("ID") == true && lines.first?.contains("NAME") == true && lines.first?.contains("AGE") == true)
        #expect(lines.count == 2 && lines[1].contains("prod"))
        #expect(!table.stdout.contains("\u{1B}["))  // no colour when not a terminal

        let wide = try world.home.run(["cluster", "ls", "-o", "wide"], environment: world.admin)
        #expect(wide.stdout.contains("10.42.0.0/16") && wide.stdout.contains("env=prod"))

        let json = try world.home.run(["cluster", "ls", "-o", "json"], environment: world.admin)
        let parsed = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]]
        #expect(parsed?.first?["name"] as? String == "prod")
        #expect(parsed?.first?["network_cidr"] as? String == "10.42.0.0/16")

        let yaml = try world.home.run(["cluster", "inspect", "prod", "-o", "yaml"], environment: world.admin)
        #expect(yaml.stdout.contains("name: prod") && yaml.stdout.contains("network_cidr: 10.42.0.0/16"))

        let quiet = try world.home.run(["cluster", "ls", "-q"], environment: world.admin)
        #expect(quiet.stdout.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("clu_"))
        let byID = try world.home.run(["cluster", "inspect", quiet.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "-o", "json"], environment: world.admin)
        #expect(byID.status == 0 && byID.stdout.contains("\"name\" : \"prod\""))
    }

    @Test func templatesGetVersionsAndDiffs() async throws {
        let world = try await Fixture.shared.get()
        let directory = try project(world.home, "tpl", compose: "services:\n  web:\n    image: nginx:1\n")
        let created = try world.home.run(["template", "create", "web", "-f", "compose.yml"], environment: world.admin, in: directory)
        #expect(created.status == 0, "\(created.stderr)")
        try "services:\n  web:\n    image: nginx:2\n".write(toFile: directory + "/compose.yml", atomically: true, encoding: .utf8)
        let second = try world.home.run(["template", "create", "web", "-f", "compose.yml"], environment: world.admin, in: directory)
        #expect(second.status == 0 && second.stdout.contains("v2"), "\(second.stdout) \(second.stderr)")
        let versions = try world.home.run(["template", "versions", "web"], environment: world.admin)
        #expect(versions.stdout.contains("v1") && versions.stdout.contains("v2"))
        let diff = try world.home.run(["template", "diff", "web", "1", "2"], environment: world.admin)
        #expect(diff.status == 0 && diff.stdout.contains("-    image: nginx:1") && diff.stdout.contains("+    image: nginx:2"), "\(diff.stdout)")
        let text = try world.home.run(["template", "inspect", "web", "--version", "1", "--compose"], environment: world.admin)
        #expect(text.stdout == "services:\n  web:\n    image: nginx:1\n")
    }

    // MARK: Compose workflow

    @Test func validatePrintsServerErrorsAsFileLineColumnPath() async throws {
        let world = try await Fixture.shared.get()
        let directory = try project(world.home, "bad", compose: "services:\n  web:\n    image: nginx\n    ports:\n      - 80\n      - \"99999:80\"\n")
        let bad = try world.home.run(["validate", "-f", "compose.yml"], environment: world.admin, in: directory)
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("compose.yml:6:9 services.web.ports[1]:"), "\(bad.stderr)")

        let good = try world.home.run(["validate", "-f", wordpressCompose], environment: world.admin)
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stdout.contains("is valid (2 services: db, wordpress)"), "\(good.stdout)")
    }

    @Test func upCreatesTheApplicationThenUpdatesItAndScaleAndDownWork() async throws {
        let world = try await Fixture.shared.get()
        let directory = world.home.directory + "/Blog_Site"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: wordpressCompose, toPath: directory + "/docker-compose.yml")

        // The project is named after the directory, normalised; -d returns once accepted.
        let up = try world.home.run(["up", "-d", "--cluster", "prod"], environment: world.admin, in: directory)
        #expect(up.status == 0, "\(up.stderr)")
        #expect(up.stdout.contains("Creating application blog-site"))
        let apps = try world.home.run(["app", "ls", "-o", "json"], environment: world.admin)
        #expect(apps.stdout.contains("\"name\" : \"blog-site\""))

        // Without a scheduler the rollout cannot finish: up follows it, shows plain progress lines
        // and gives up at its timeout with exit 1 and the reason.
        try String(contentsOfFile: wordpressCompose, encoding: .utf8).replacingOccurrences(of: "wordpress:4", with: "wordpress:5")
            .write(toFile: directory + "/docker-compose.yml", atomically: true, encoding: .utf8)
        let update = try world.home.run(["up", "--timeout", "2"], environment: world.admin, in: directory)
        #expect(update.stdout.contains("Updating application blog-site"), "\(update.stdout) \(update.stderr)")
        #expect(update.stdout.contains("wordpress  0/1"), "\(update.stdout)")
        #expect(update.status == 1 && update.stderr.contains("still rolling out after 2s"), "\(update.stderr)")

        let scale = try world.home.run(["scale", "wordpress=3", "db=1"], environment: world.admin, in: directory)
        #expect(scale.status == 0, "\(scale.stderr)")
        #expect(scale.stdout.contains("Scaled wordpress to 3."))
        let services = try world.home.run(["service", "ls", "--app", "blog-site", "-o", "json"], environment: world.admin)
        let parsed = try JSONSerialization.jsonObject(with: Data(services.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(parsed.first { $0["name"] as? String == "wordpress" }?["desired_replicas"] as? Int == 3)
        let unknown = try world.home.run(["scale", "nginx=2"], environment: world.admin, in: directory)
        #expect(unknown.status == 3 && unknown.stderr.contains("has no service nginx"))
        let invalid = try world.home.run(["scale", "wordpress=many"], environment: world.admin, in: directory)
        #expect(invalid.status == 2)

        let ps = try world.home.run(["ps"], environment: world.admin, in: directory)
        #expect(ps.status == 0, "\(ps.stdout) \(ps.stderr)")

        let down = try world.home.run(["down", "--timeout", "20"], environment: world.admin, in: directory)
        #expect(down.status == 0, "\(down.stdout) \(down.stderr)")
        let gone = try world.home.run(["app", "inspect", "blog-site"], environment: world.admin)
        #expect(gone.status == 3)
    }

    @Test func upWithInvalidComposeShowsEachErrorWithItsPosition() async throws {
        let world = try await Fixture.shared.get()
        let directory = try project(world.home, "broken", compose: "services:\n  web:\n    ports:\n      - \"80:80\"\n")
        let up = try world.home.run(["up", "--cluster", "prod"], environment: world.admin, in: directory)
        #expect(up.status == 1)
        #expect(up.stderr.contains("The compose text is not valid"), "\(up.stderr)")
        #expect(up.stderr.contains("compose.yml:3:5 services.web: service 'web' has neither"), "\(up.stderr)")
    }

    // MARK: Events

    @Test func eventsListRecentChangesAndWatchStreamsNewOnes() async throws {
        let world = try await Fixture.shared.get()
        let listed = try world.home.run(["events", "--limit", "100"], environment: world.admin)
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.hasPrefix("AGE") || listed.stdout.contains("TYPE"), "\(listed.stdout)")
        #expect(listed.stdout.contains("cluster"), "\(listed.stdout)")

        // A watching process sees a change made by another one.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CaasctlHome.binary)
        process.arguments = ["events", "-w", "-o", "json", "--limit", "0"]
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CAAS_") }
        environment.merge(world.admin) { $1 }
        environment["XDG_CONFIG_HOME"] = world.home.directory + "/config"
        process.environment = environment
        let out = Pipe()
        process.standardOutput = out
        process.standardError = Pipe()
        try process.run()
        let seen = Box()
        out.fileHandleForReading.readabilityHandler = { handle in seen.append(handle.availableData) }
        try await Task.sleep(for: .seconds(1))
        let created = try world.home.run(["cluster", "create", "watched"], environment: world.admin)
        #expect(created.status == 0)
        let deadline = ContinuousClock.now.advanced(by: .seconds(20))
        while ContinuousClock.now < deadline, !String(decoding: seen.get(), as: UTF8.self).contains("watched") {
            try await Task.sleep(for: .milliseconds(100))
        }
        process.terminate()
        process.waitUntilExit()
        out.fileHandleForReading.readabilityHandler = nil
        let text = String(decoding: seen.get(), as: UTF8.self)
        #expect(text.contains("watched"), "\(text)")
        let line = text.split(separator: "\n").first { $0.contains("watched") }.map(String.init) ?? ""
        #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil)
        _ = try world.home.run(["cluster", "rm", "watched"], environment: world.admin)
    }

    // MARK: Errors and exit codes

    @Test func everyExitCodeIsTheDocumentedOne() async throws {
        let world = try await Fixture.shared.get()
        let home = world.home
        // 0
        #expect(try home.run(["cluster", "ls"], environment: world.admin).status == 0)
        // 1: a server that is not there; a TLS handshake with a plain HTTP port
        let unreachable = try home.run(["cluster", "ls", "--server", "http://127.0.0.1:1", "--token", "x"])
        #expect(unreachable.status == 1 && unreachable.stderr.contains("connection refused"))
        let tls = try home.run(["cluster", "ls", "--server", world.server.url.replacingOccurrences(of: "http:", with: "https:"), "--token", "x"])
        #expect(tls.status == 1 && tls.stderr.contains("TLS"), "\(tls.stderr)")
        // 2: usage
        let usage = try home.run(["cluster", "ls", "--bogus"], environment: world.admin)
        #expect(usage.status == 2 && usage.stderr.contains("--bogus"))
        #expect(try home.run(["cluster", "create"], environment: world.admin).status == 2)
        #expect(try home.run(["cluster", "ls"]).status == 2)  // no server configured
        // 3: not found (by name and by id)
        let missing = try home.run(["cluster", "inspect", "nowhere"], environment: world.admin)
        #expect(missing.status == 3 && missing.stderr.contains("no cluster named nowhere"))
        #expect(try home.run(["app", "inspect", "app_00000000000000000000"], environment: world.admin).status == 3)
        // 4: conflict
        let conflict = try home.run(["cluster", "create", "prod"], environment: world.admin)
        #expect(conflict.status == 4, "\(conflict.stderr)")
        #expect(conflict.stderr.contains("(409)"))
        // 5: authentication and permission
        let unauthenticated = try home.run(["cluster", "ls"], environment: ["CAAS_SERVER": world.server.url, "CAAS_TOKEN": "caas_nope"])
        #expect(unauthenticated.status == 5 && unauthenticated.stderr.contains("hint: the token"))
        let forbidden = try home.run(["cluster", "create", "viewers-cannot"], environment: world.environment("viewer"))
        #expect(forbidden.status == 5 && forbidden.stderr.contains("Forbidden"), "\(forbidden.stderr)")
    }

    @Test func helpOnEveryCommandHasAnExampleAndTheExitCodes() async throws {
        let home = CaasctlHome()
        defer { home.remove() }
        let root = try home.run(["--help"])
        #expect(root.status == 0 && root.stdout.contains("Exit codes:") && root.stdout.contains("5  authentication"))
        let commands = [["login"], ["context", "ls"], ["context", "use"], ["context", "rm"], ["up"], ["down"], ["scale"], ["validate"],
                        ["cluster", "create"], ["cluster", "ls"], ["cluster", "inspect"], ["cluster", "rm"], ["cluster", "join-token"],
                        ["node", "ls"], ["node", "inspect"], ["node", "drain"], ["node", "pause"], ["node", "activate"], ["node", "rm"],
                        ["template", "create"], ["template", "ls"], ["template", "inspect"], ["template", "versions"],
                        ["template", "validate"], ["template", "diff"], ["template", "rm"], ["image", "ls"], ["image", "search"],
                        ["app", "create"], ["app", "ls"], ["app", "inspect"], ["app", "update"], ["app", "rollback"], ["app", "rm"],
                        ["service", "ls"], ["service", "inspect"], ["service", "scale"], ["ps"], ["logs"], ["events"],
                        ["tenant", "create"], ["tenant", "ls"], ["tenant", "inspect"], ["tenant", "suspend"], ["tenant", "resume"], ["tenant", "rm"],
                        ["tenant", "policy", "get"], ["tenant", "policy", "set"],
                        ["token", "create"], ["token", "ls"], ["token", "inspect"], ["token", "revoke"], ["quota", "show"], ["quota", "set"],
                        ["audit"], ["completion"]]
        for command in commands {
            let help = try home.run(command + ["--help"])
            #expect(help.status == 0, "\(command)")
            #expect(help.stdout.contains("Example:\n  caasctl "), "\(command) has no example")
        }
        for shell in ["bash", "zsh", "fish"] {
            let script = try home.run(["completion", shell])
            #expect(script.status == 0 && script.stdout.contains("caasctl") && script.stdout.count > 1000, "\(shell)")
        }
    }

    @Test func administratorsManageTenantsTokensQuotasAndReadTheAuditLog() async throws {
        let world = try await Fixture.shared.get()
        let system = ["CAAS_SERVER": world.server.url, "CAAS_TOKEN": world.server.systemToken]
        let tenants = try world.home.run(["tenant", "ls"], environment: system)
        #expect(tenants.status == 0 && tenants.stdout.contains("acme"))
        let quota = try world.home.run(["quota", "set", "acme", "applications=7"], environment: system)
        #expect(quota.status == 0 && quota.stdout.contains("applications=7"), "\(quota.stderr)")
        let shown = try world.home.run(["quota", "show"], environment: world.admin)
        #expect(shown.stdout.contains("applications") && shown.stdout.contains("7"), "\(shown.stdout)")
        let token = try world.home.run(["token", "create", "ci", "--role", "operator", "--expires", "30d"], environment: world.admin)
        #expect(token.status == 0 && token.stdout.contains("Secret (shown once"), "\(token.stderr)")
        let revoked = try world.home.run(["token", "revoke", "ci"], environment: world.admin)
        #expect(revoked.status == 0, "\(revoked.stderr)")
        let audit = try world.home.run(["audit", "--limit", "20"], environment: world.admin)
        #expect(audit.status == 0 && audit.stdout.contains("tokens.revoke"), "\(audit.stdout)")
        // Operators may not read the audit log.
        #expect(try world.home.run(["audit"], environment: world.environment("operator")).status == 5)
    }

    @Test func theSystemAdministratorSetsAHostPolicyThatValidateObeys() async throws {
        let world = try await Fixture.shared.get()
        let system = ["CAAS_SERVER": world.server.url, "CAAS_TOKEN": world.server.systemToken]
        defer { _ = try? world.home.run(["tenant", "policy", "set", "acme"], environment: system) }
        let set = try world.home.run(["tenant", "policy", "set", "acme", "--bind-prefix", "/srv/data/", "--cap-add", "net_admin", "-o", "json"],
                                     environment: system)
        #expect(set.status == 0, "\(set.stderr)")
        #expect(set.stdout.contains("\"/srv/data\"") && set.stdout.contains("\"NET_ADMIN\""), "\(set.stdout)")
        let own = try world.home.run(["tenant", "policy", "get"], environment: world.admin)
        #expect(own.status == 0 && own.stdout.contains("/srv/data"), "\(own.stdout) \(own.stderr)")
        let forbidden = try world.home.run(["tenant", "policy", "set", "acme", "--allow-privileged"], environment: world.admin)
        #expect(forbidden.status == 5, "a tenant admin cannot widen its own policy: \(forbidden.stderr)")

        let directory = try project(world.home, "hostroot", compose: "services:\n  web:\n    image: nginx\n    volumes:\n      - /:/host\n      - /srv/data/www:/www\n")
        let refused = try world.home.run(["validate", "-f", "compose.yml"], environment: world.admin, in: directory)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("compose.yml:5:9 services.web.volumes[0]:") && refused.stderr.contains("never mountable"), "\(refused.stderr)")
        #expect(!refused.stderr.contains("volumes[1]"), "the allowed prefix passes: \(refused.stderr)")

        let file = world.home.directory + "/policy.json"
        try #"{"bind_prefixes":["srv"]}"#.write(toFile: file, atomically: true, encoding: .utf8)
        let bad = try world.home.run(["tenant", "policy", "set", "acme", "--file", file], environment: system)
        #expect(bad.status != 0 && bad.stderr.contains("/bind_prefixes/0"), "\(bad.stderr)")
        let reset = try world.home.run(["tenant", "policy", "set", "acme", "-o", "json"], environment: system)
        #expect(reset.status == 0, "\(reset.stderr)")
        let defaults = try JSONSerialization.jsonObject(with: Data(reset.stdout.utf8)) as? [String: Any]
        #expect((defaults?["bind_prefixes"] as? [Any])?.isEmpty == true && defaults?["privileged"] as? Bool == false, "\(reset.stdout)")
    }
}

/// caasctl under a pseudo-terminal (`script`): the progress display redraws its lines in place.
@Suite(.serialized) struct CaasctlTerminalTests {
    @Test func upOnATerminalRedrawsPerServiceProgressBarsInPlace() async throws {
        let world = try await Fixture.shared.get()
        let directory = try project(world.home, "termsite", compose: try String(contentsOfFile: wordpressCompose, encoding: .utf8))
        let (status, text) = try world.home.runOnTerminal(["up", "--cluster", "prod", "--timeout", "3"], in: directory, environment: world.admin)
        // Each frame clears and rewrites its lines; later frames first move the cursor back up.
        #expect(text.contains("\r\u{1B}[2Kdb         "), "\(text.debugDescription)")
        #expect(text.contains("░░░░░░░░░░░░░░░░░░░░\u{1B}[0m 0/1"), "\(text.debugDescription)")
        #expect(text.contains("\u{1B}[2A") || text.contains("\u{1B}[3A"), "\(text.debugDescription)")
        // Colour on a terminal: the bar is painted.
        #expect(text.contains("\u{1B}[33m"), "\(text.debugDescription)")
        #expect(status == 1)
        #expect(text.contains("still rolling out after 3s"))
        _ = try world.home.run(["down", "-d", "-p", "termsite"], environment: world.admin)
    }

    @Test func noColorKeepsATerminalFreeOfColourButStillRedraws() async throws {
        let world = try await Fixture.shared.get()
        for noColor in [false, true] {
            var environment = world.admin
            environment["NO_COLOR"] = noColor ? "1" : nil
            let (_, text) = try world.home.runOnTerminal(["cluster", "ls"], in: world.home.directory, environment: environment)
            #expect(text.contains("\u{1B}[") == !noColor, "NO_COLOR=\(noColor): \(text.debugDescription)")
        }
    }
}
