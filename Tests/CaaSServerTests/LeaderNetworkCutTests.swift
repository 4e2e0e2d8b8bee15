import CaaSPostgres
@testable import CaaSServer
@testable import CaaSStore
import CaaSTestSupport
import Foundation
import Logging
import Testing

/// Issue 13 item 2, the network cut: two replicas contend for the singletons' leadership; the
/// leader reaches PostgreSQL only through a TCP proxy the test controls (its pool and its lock
/// session). The test cuts the proxy — no byte passes, nothing is closed, as on a half-open path —
/// and then: the other replica leads and writes within 5 s, and the old leader makes no further
/// write, during the cut or after the heal (its writes carry its epoch and the fence refuses them).
///
/// The leader's "work" is a probe loop that writes a row with its term's epoch through the fenced
/// path (`SystemTransaction.fence`, as the singleton loops' writes do) every 50 ms.
@Suite(.serialized) struct LeaderNetworkCutTests {
    /// Counts what one replica's probe loop did.
    final class Probe: @unchecked Sendable {
        private let lock = NSLock()
        private var _written = 0
        private var _refused = 0
        private var _failed = 0
        func count(written: Int = 0, refused: Int = 0, failed: Int = 0) {
            lock.lock(); defer { lock.unlock() }
            _written += written; _refused += refused; _failed += failed
        }
        var counts: (written: Int, refused: Int, failed: Int) {
            lock.lock(); defer { lock.unlock() }
            return (_written, _refused, _failed)
        }
    }

    /// The body a leader runs: fenced probe writes until the fence says the term is over.
    static func probeLoop(store: Store, term: LeadershipTerm, probe: Probe) async {
        while !Task.isCancelled {
            do {
                try await store.systemTransaction { tx in
                    try tx.fence(term)
                    try tx.connection.execute("INSERT INTO fence_probe (epoch, holder) VALUES ($1, $2)", [term.epoch, term.holder])
                }
                probe.count(written: 1)
            } catch is LeadershipLost {
                probe.count(refused: 1)
                return
            } catch {
                probe.count(failed: 1)
                if Task.isCancelled { return }
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func leaderCutOffByTheNetworkIsReplacedAndMakesNoFurtherWrite() async throws {
        let database = try await TestPostgres.makeDatabase(label: "leader_cut")
        try await Migrations.apply(database.pool)
        try await database.pool.withConnection { c in
            try c.execute("""
                CREATE TABLE fence_probe (id bigserial PRIMARY KEY, epoch bigint NOT NULL, holder text NOT NULL,
                                          at timestamptz NOT NULL DEFAULT clock_timestamp())
                """)
            try c.execute("GRANT INSERT, SELECT ON fence_probe TO caas_app")
            try c.execute("GRANT USAGE ON SEQUENCE fence_probe_id_seq TO caas_app")
        }
        let server = database.server
        let proxy = try TCPProxy(upstream: .unix(path: "\(server.socketDirectory)/.s.PGSQL.\(server.configuration.port)"))
        defer { proxy.stop() }

        // Replica A: everything through the proxy. Short timeouts, as a deployment that wants a
        // fast takeover would set them: the server ends A's transactions left idle by the cut
        // after 1 s and its silent lock session after 2 s; a check unanswered for 3 s is given up.
        var viaProxy = PostgresConfiguration(url: "host=127.0.0.1 port=\(proxy.port) dbname=\(database.name) user=\(EmbeddedPostgres.superuser) keepalives_idle=1 keepalives_interval=1 keepalives_count=2 tcp_user_timeout=3000",
                                             applicationName: "replica-a", connectTimeoutSeconds: 2)
        viaProxy.sessionSettings["idle_in_transaction_session_timeout"] = "1000ms"
        viaProxy.sessionSettings["statement_timeout"] = "2000ms"
        let poolA = PostgresPool(configuration: .init(connection: viaProxy, maxConnections: 4, acquireTimeout: .seconds(2)))
        let storeA = Store(source: poolA)
        var direct = PostgresConfiguration(url: database.url, applicationName: "replica-b")
        direct.sessionSettings["idle_in_transaction_session_timeout"] = "1000ms"
        let poolB = PostgresPool(configuration: .init(connection: direct, maxConnections: 4, acquireTimeout: .seconds(2)))
        let storeB = Store(source: poolB)
        defer { poolA.shutdown(); poolB.shutdown() }

        var logger = Logger(label: "test.leader-cut")
        logger.logLevel = .warning
        let leaderA = Leadership(name: "cut-probe", store: storeA, holder: "replica-a", configuration: viaProxy,
                                 retryInterval: 0.25, checkInterval: 0.5, sessionTimeout: 2, logger: logger)
        let leaderB = Leadership(name: "cut-probe", store: storeB, holder: "replica-b", configuration: direct,
                                 retryInterval: 0.25, checkInterval: 0.5, sessionTimeout: 2, logger: logger)
        let (probeA, probeB) = (Probe(), Probe())
        let runA = Task { await leaderA.run { term in await Self.probeLoop(store: storeA, term: term, probe: probeA) } }
        #expect(try await eventually(10) { leaderA.isLeader && probeA.counts.written >= 5 }, "A leads and writes")
        let runB = Task { await leaderB.run { term in await Self.probeLoop(store: storeB, term: term, probe: probeB) } }
        defer { runA.cancel(); runB.cancel() }
        try await Task.sleep(for: .milliseconds(700))
        #expect(!leaderB.isLeader, "B follows while A leads")

        let rows = { @Sendable (epoch: Int64) async throws -> Int in
            try await database.pool.withConnection { c in
                try c.query("SELECT count(*)::int8 AS n FROM fence_probe WHERE epoch = $1", [epoch])[0].decode("n", as: Int.self)
            }
        }
        let epochA: Int64 = try await database.pool.withConnection { c in
            try c.query("SELECT epoch FROM leadership_terms WHERE name = 'cut-probe'")[0].decode("epoch")
        }

        // The cut.
        proxy.cut()
        let cutAt = Date()
        // Whatever passed the proxy before the cut has landed within a moment.
        try await Task.sleep(for: .milliseconds(300))
        let beforeCut = try await rows(epochA)

        var tookOver: TimeInterval?
        var firstNewWrite: TimeInterval?
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, firstNewWrite == nil {
            if tookOver == nil, leaderB.isLeader { tookOver = Date().timeIntervalSince(cutAt) }
            let newer: Int = try await database.pool.withConnection { c in
                try c.query("SELECT count(*)::int8 AS n FROM fence_probe WHERE epoch > $1", [epochA])[0].decode("n")
            }
            if newer > 0 { firstNewWrite = Date().timeIntervalSince(cutAt) }
            try await Task.sleep(for: .milliseconds(25))
        }
        if tookOver == nil, leaderB.isLeader { tookOver = Date().timeIntervalSince(cutAt) }
        let duringCut = try await rows(epochA)

        // Keep the cut a little longer (the old leader keeps trying), then heal: what it had in
        // flight now reaches the server, and must be refused or lost, never written.
        try await Task.sleep(for: .seconds(2))
        proxy.heal()
        let healedAt = Date()
        let aStepsDown = try await eventually(15) { !leaderA.isLeader }
        try await Task.sleep(for: .seconds(2))
        let afterHeal = try await rows(epochA)
        let terms: [(epoch: Int64, holder: String)] = try await database.pool.withConnection { c in
            try c.query("SELECT epoch, holder FROM fence_probe GROUP BY epoch, holder ORDER BY epoch").map {
                (try $0.decode("epoch"), try $0.decode("holder"))
            }
        }
        let (a, b) = (probeA.counts, probeB.counts)
        print("""
            leader network cut: new leader after \(tookOver.map { String(format: "%.2f s", $0) } ?? "never"), \
            its first write \(firstNewWrite.map { String(format: "%.2f s", $0) } ?? "never") after the cut; \
            old leader (epoch \(epochA)) rows: \(beforeCut) at the cut, \(duringCut) when B wrote, \(afterHeal) \
            \(String(format: "%.1f", Date().timeIntervalSince(healedAt))) s after the heal (writes after the cut: \(afterHeal - beforeCut)); \
            A probe written/refused/failed \(a), B \(b); terms that wrote \(terms)
            """)
        #expect(tookOver != nil && tookOver! < 5, "a new leader within 5 s of the cut: \(String(describing: tookOver))")
        #expect(firstNewWrite != nil && firstNewWrite! < 5, "the new leader writes within 5 s of the cut: \(String(describing: firstNewWrite))")
        #expect(duringCut == beforeCut && afterHeal == beforeCut, "the old leader writes nothing after the cut: \(beforeCut) → \(duringCut) → \(afterHeal)")
        #expect(aStepsDown, "the old leader knows it is not leading once it hears the database again")
        #expect(leaderB.isLeader, "B still leads after the heal")
        #expect(terms.allSatisfy { $0.holder == "replica-a" ? $0.epoch == epochA : $0.epoch > epochA }, "\(terms)")
        #expect(try await rows(epochA) == beforeCut)

        runA.cancel()
        runB.cancel()
        await runA.value
        await runB.value
    }

    func eventually(_ timeout: TimeInterval, _ condition: @Sendable () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(25))
        }
        return try await condition()
    }
}
