import CaaSClient
import CaaSHTTP
import CaaSWorkersTestSupport
import Foundation
import Testing

/// A second server, this one running the scheduler's workers and the shared in-process test
/// agent (containers reach `running`; images in `failing` exit at once), so rollouts end and
/// caasctl's exit codes follow them.
actor RolloutFixture {
    static let shared = RolloutFixture()
    static let failingImage = "busybox:bad"

    struct World: Sendable {
        let server: LiveServer
        let workers: LiveWorkers
        let home: CaasctlHome
        let tokens: [String: String]
        var admin: [String: String] { ["CAAS_SERVER": server.url, "CAAS_TOKEN": tokens["admin"]!] }
    }

    private var world: Task<World, Error>?

    func get() async throws -> World {
        if world == nil {
            world = Task {
                let server = try await LiveServer.start("caasctl_rollout")
                let home = CaasctlHome()
                let tokens = try server.makeTenant("acme", home: home)
                let admin = ["CAAS_SERVER": server.url, "CAAS_TOKEN": tokens["admin"]!]
                let cluster = try home.run(["cluster", "create", "prod", "--network", "10.42.0.0/16"], environment: admin)
                precondition(cluster.status == 0, "cluster create failed: \(cluster.stderr)")
                let client = try CaaSClient(CaaSClientConfiguration(server: server.url, token: tokens["admin"]!))
                let clusters = try await client.get("/v1/clusters")
                guard let clusterID = clusters["items"]?.arrayValue?.first?["id"]?.stringValue else {
                    preconditionFailure("no cluster: \(clusters)")
                }
                var nodes: [String] = []
                for name in ["n1", "n2", "n3"] {
                    let body: JSON = ["name": .string(name), "engine_endpoint": .string("unix:///run/caas-test/\(name).sock"),
                                      "labels": [:], "capacity": ["cpus": 2, "memory_bytes": 4_294_967_296]]
                    let node = try await client.send(.post, "/v1/clusters/\(clusterID)/nodes", body: body).json()
                    guard let id = node["id"]?.stringValue else { preconditionFailure("node create: \(node)") }
                    nodes.append(id)
                }
                let workers = try await server.startWorkers(clusterID: clusterID, nodeIDs: nodes, failing: [Self.failingImage])
                return World(server: server, workers: workers, home: home, tokens: tokens)
            }
        }
        return try await world!.value
    }
}

/// A service whose failed update rolls back (one at a time, no monitoring window).
private func rollingCompose(_ image: String) -> String {
    """
    services:
      web:
        image: \(image)
        deploy:
          replicas: 2
          update_config:
            parallelism: 1
            monitor: 0s
            failure_action: rollback
          rollback_config:
            parallelism: 0
            monitor: 0s
    """
}

/// `web`, each of whose containers reserves `memory` (the fixture's nodes have 4 GiB each).
private func reservingCompose(_ image: String, replicas: Int, memory: String) -> String {
    """
    services:
      web:
        image: \(image)
        deploy:
          replicas: \(replicas)
          resources:
            reservations:
              memory: \(memory)
    """
}

/// Lines of `text` in which the scheduler says why containers of `web` cannot be placed.
private func unplacedLines(_ text: String) -> [String] {
    text.components(separatedBy: "\n").filter { $0.contains("web: ") && $0.contains("cannot be placed:") && $0.contains("insufficient memory") }
}

/// Runs caasctl under a pseudo-terminal (`script`) in `directory`: its exit status and everything it wrote.
private func onTerminal(_ world: RolloutFixture.World, _ arguments: [String], in directory: String) throws -> (status: Int32, text: String) {
    try world.home.runOnTerminal(arguments, in: directory, environment: world.admin)
}

@Suite(.serialized) struct CaasctlRolloutTests {
    @Test func upOfWordpressMySQLExitsZeroOnceTheRolloutSucceedsWithPlainProgressLines() async throws {
        let world = try await RolloutFixture.shared.get()
        let up = try world.home.run(["up", "-f", "/work/shared/compose/wordpress-mysql.yml", "-p", "wp", "--cluster", "prod", "--timeout", "60"],
                                    environment: world.admin, timeout: .seconds(90))
        #expect(up.status == 0, "\(up.stdout)\n\(up.stderr)")
        #expect(up.stdout.contains("Creating application wp"), "\(up.stdout)")
        // Not a terminal: plain lines, one per change of a service's numbers, and no escapes.
        #expect(up.stdout.contains("db         1/1") || up.stdout.range(of: #"db\s+1/1"#, options: .regularExpression) != nil, "\(up.stdout)")
        #expect(up.stdout.range(of: #"wordpress\s+1/1"#, options: .regularExpression) != nil, "\(up.stdout)")
        #expect(!up.stdout.contains("\u{1B}["), "no terminal escapes when not a terminal")
        #expect(up.stdout.contains("wp is up (generation 1)"), "\(up.stdout)")

        // The containers run; `ps` shows them.
        let ps = try world.home.run(["ps", "--app", "wp", "-q"], environment: world.admin)
        #expect(ps.status == 0 && ps.stdout.split(separator: "\n").count == 2, "\(ps.stdout) \(ps.stderr)")
    }

    @Test func upWhoseRolloutFailsAndRollsBackExitsOneWithTheReason() async throws {
        let world = try await RolloutFixture.shared.get()
        let directory = try project(world.home, "failing", compose: rollingCompose("busybox:1"))
        let first = try world.home.run(["up", "--cluster", "prod", "--timeout", "60"], environment: world.admin, in: directory, timeout: .seconds(90))
        #expect(first.status == 0, "\(first.stdout)\n\(first.stderr)")

        // The test agent reports containers of this image exited: the update rolls back.
        try rollingCompose(RolloutFixture.failingImage).write(toFile: directory + "/compose.yml", atomically: true, encoding: .utf8)
        let update = try world.home.run(["up", "--timeout", "60"], environment: world.admin, in: directory, timeout: .seconds(90))
        #expect(update.stdout.contains("Updating application failing"), "\(update.stdout)")
        #expect(update.status == 1, "\(update.stdout)\n\(update.stderr)")
        #expect(update.stderr.contains("failing: rolled back"), "the outcome and the server's reason: \(update.stderr)")
        #expect(update.stdout.range(of: #"web\s+\d/2"#, options: .regularExpression) != nil, "plain progress lines: \(update.stdout)")
    }

    @Test func upSaysWhyAServiceCannotBePlacedWhileItWaitsOncePerChange() async throws {
        let world = try await RolloutFixture.shared.get()
        let directory = try project(world.home, "outgrown", compose: reservingCompose("busybox:1", replicas: 2, memory: "64M"))
        let first = try world.home.run(["up", "--cluster", "prod", "--timeout", "60"], environment: world.admin, in: directory, timeout: .seconds(90))
        #expect(first.status == 0, "\(first.stdout)\n\(first.stderr)")

        // The update reserves more than any node has: its rolling update removes the old
        // containers one by one, and the scheduler says after each pass why it cannot place the new ones.
        try reservingCompose("busybox:2", replicas: 2, memory: "64G").write(toFile: directory + "/compose.yml", atomically: true, encoding: .utf8)
        let up = try world.home.start(["up", "--timeout", "120"], environment: world.admin, in: directory)
        let said = try await up.wait(until: { $0.contains("web: 2 containers cannot be placed:") }, timeout: .seconds(60))
        let stillWaiting = up.isRunning
        // More passes and polls: an explanation that stays the same is not printed again.
        try await Task.sleep(for: .seconds(6))
        up.stop()
        _ = try world.home.run(["down", "-d", "-p", "outgrown"], environment: world.admin)
        #expect(said, "the scheduler's explanation, in plain output: \(up.stdout)\n\(up.stderr)")
        #expect(stillWaiting, "printed while up still follows the rollout, not at its deadline")
        let lines = unplacedLines(up.stdout)
        #expect(!lines.isEmpty && Set(lines).count == lines.count, "each explanation once: \(up.stdout)")
        #expect(!up.stdout.contains("\u{1B}["), "no terminal escapes when not a terminal")
    }

    @Test func upOnATerminalPrintsWhyAServiceCannotBePlacedOnceAboveTheProgress() async throws {
        let world = try await RolloutFixture.shared.get()
        let directory = try project(world.home, "toobig", compose: reservingCompose("busybox:1", replicas: 3, memory: "64G"))
        let up = try onTerminal(world, ["up", "--cluster", "prod", "--timeout", "8"], in: directory)
        _ = try world.home.run(["down", "-d", "-p", "toobig"], environment: world.admin)
        #expect(up.status == 1, "\(up.text.debugDescription)")
        let deadline = try #require(up.text.range(of: "still rolling out after 8s"), "\(up.text.debugDescription)")
        let explained = try #require(up.text.range(of: "cannot be placed"), "\(up.text.debugDescription)")
        #expect(explained.lowerBound < deadline.lowerBound, "shown while up waits, before it gives up")
        #expect(unplacedLines(up.text).count == 1 && up.text.contains("web: 3 containers cannot be placed:"),
                "once, above the redrawn lines: \(up.text.debugDescription)")
        #expect(up.text.contains("\r\u{1B}[J"), "the redrawn lines are cleared before it: \(up.text.debugDescription)")
    }

    @Test func appRollbackFollowsTheServersRollbackToTheEnd() async throws {
        let world = try await RolloutFixture.shared.get()
        let directory = try project(world.home, "rollme", compose: rollingCompose("busybox:1"))
        let first = try world.home.run(["up", "--cluster", "prod", "--timeout", "60"], environment: world.admin, in: directory, timeout: .seconds(90))
        #expect(first.status == 0, "\(first.stdout)\n\(first.stderr)")

        // Nothing to go back to yet: the server's 409 is exit 4.
        let early = try world.home.run(["app", "rollback", "rollme"], environment: world.admin)
        #expect(early.status == 4, "\(early.stdout)\n\(early.stderr)")
        #expect(early.stderr.contains("no previous generation"), "\(early.stderr)")

        try rollingCompose("busybox:2").write(toFile: directory + "/compose.yml", atomically: true, encoding: .utf8)
        let update = try world.home.run(["up", "--timeout", "60"], environment: world.admin, in: directory, timeout: .seconds(90))
        #expect(update.status == 0, "\(update.stdout)\n\(update.stderr)")

        let rollback = try world.home.run(["app", "rollback", "rollme", "--wait", "--timeout", "60"], environment: world.admin, timeout: .seconds(90))
        #expect(rollback.status == 0, "an explicit rollback ending rolled_back succeeds: \(rollback.stdout)\n\(rollback.stderr)")
        #expect(rollback.stdout.contains("rollme is rolled back"), "\(rollback.stdout)")
        let containers = try world.home.run(["ps", "--app", "rollme", "-o", "json"], environment: world.admin)
        let parsed = try JSONSerialization.jsonObject(with: Data(containers.stdout.utf8)) as? [[String: Any]] ?? []
        let running = parsed.filter { $0["observed_state"] as? String == "running" && $0["desired_state"] as? String == "running" }
        #expect(running.count == 2 && running.allSatisfy { $0["generation"] as? Int == 1 },
                "generation 1 runs again: \(containers.stdout)")
    }

    @Test func logsSendsOnlyFollowAndTailWhichTheRouteAccepts() async throws {
        let world = try await RolloutFixture.shared.get()
        let directory = try project(world.home, "logged", compose: rollingCompose("busybox:1"))
        let up = try world.home.run(["up", "--cluster", "prod", "--timeout", "60"], environment: world.admin, in: directory, timeout: .seconds(90))
        #expect(up.status == 0, "\(up.stdout)\n\(up.stderr)")
        let ids = try world.home.run(["ps", "--app", "logged", "-q"], environment: world.admin)
        let container = try #require(ids.stdout.split(separator: "\n").first.map(String.init))
        // The route (mounted without an agent channel here) checks its query parameters and the
        // container, then answers 503: a parameter it does not take would be a 400 instead.
        let logs = try world.home.run(["logs", container, "-f", "--tail", "5"], environment: world.admin)
        #expect(logs.status == 1, "\(logs.stderr)")
        #expect(logs.stderr.contains("agent channel is not running"), "\(logs.stderr)")
        #expect(!logs.stderr.contains("400"), "\(logs.stderr)")
        #expect(CaaSClient.logsQuery(follow: true, tail: 5).map { "\($0.0)=\($0.1)" } == ["follow=true", "tail=5"])
        #expect(CaaSClient.logsQuery(follow: false, tail: nil).isEmpty)
        let tooLong = try world.home.run(["logs", container, "--tail", "1000000"], environment: world.admin)
        #expect(tooLong.status == 2, "tail is at most 999999 (the route's pattern): \(tooLong.stderr)")
        let noTimestamps = try world.home.run(["logs", container, "-t"], environment: world.admin)
        #expect(noTimestamps.status == 2, "the route has no timestamps parameter, so caasctl has no -t")
    }
}
