import CaaSHTTP
import CaaSPostgres
import Logging

/// `GET /healthz` (the process answers), `GET /readyz` (the database answers and every migration
/// is applied) and `GET /v1/version`: served outside the API pipeline, without authentication,
/// for load balancers, orchestrators and clients checking what they talk to.
public struct HealthRoutes: Sendable {
    /// Whether the server can serve requests now; `nil` means ready, a text says why not.
    public typealias ReadinessCheck = @Sendable () async -> String?

    let readiness: ReadinessCheck

    /// `check` at most once per `cacheFor` however many ask (callers meanwhile share the answer
    /// or the check in flight): a flood of `/readyz` costs one check a second, not a connection each.
    public init(cacheFor: Duration = .seconds(1), readiness check: @escaping ReadinessCheck) {
        let cache = ReadinessCache(ttl: cacheFor, check: check)
        self.readiness = { await cache.answer() }
    }

    /// Ready when `SELECT 1` answers on `pool` and `migrator` has nothing pending or changed.
    /// Anonymous callers read why not in general terms; the database's own error goes to the log.
    public init(pool: PostgresPool, migrator: Migrator, logger: Logger = Logger(label: "caas.health")) {
        self.init(readiness: {
            do {
                _ = try await pool.withConnection { try $0.query("SELECT 1") }
            } catch {
                logger.warning("not ready: the database does not answer", metadata: ["error": "\(error)"])
                return "the database does not answer"
            }
            do {
                let status = try await migrator.status()
                if !status.changed.isEmpty { return "applied migrations were changed since" }
                if !status.pending.isEmpty { return "\(status.pending.count) migrations pending" }
            } catch {
                logger.warning("not ready: migration status unknown", metadata: ["error": "\(error)"])
                return "the migration status is unknown"
            }
            return nil
        })
    }

    /// The routes, in the order openapi.yaml lists them.
    public static let paths = ["/healthz", "/readyz", "/v1/version"]

    public func register(on router: inout Router) {
        router.get("/healthz") { _, _ in .text("ok\n") }
        let readiness = self.readiness
        router.get("/readyz") { _, _ in
            if let reason = await readiness() {
                return .text("not ready: \(reason)\n", status: .serviceUnavailable)
            }
            return .text("ready\n")
        }
        router.get("/v1/version") { _, _ in
            try .json(VersionInfo(version: CaaSVersion.version, api: CaaSVersion.api))
        }
    }

    struct VersionInfo: Encodable {
        var version: String
        var api: String
    }
}

/// The last readiness answer and the check in flight, shared by every caller.
final class ReadinessCache: Sendable {
    let ttl: Duration
    let check: HealthRoutes.ReadinessCheck
    private let state = Mutex<(answer: String?, at: ContinuousClock.Instant)?>(nil)
    private let inFlight = Mutex<Task<String?, Never>?>(nil)

    init(ttl: Duration, check: @escaping HealthRoutes.ReadinessCheck) {
        self.ttl = ttl
        self.check = check
    }

    func answer() async -> String? {
        if let cached = state.withLock({ $0 }), ContinuousClock.now - cached.at < ttl { return cached.answer }
        let task = inFlight.withLock { current -> Task<String?, Never> in
            if let current { return current }
            let made = Task { [check, state, inFlight] in
                let answer = await check()
                state.withLock { $0 = (answer, ContinuousClock.now) }
                inFlight.withLock { $0 = nil }
                return answer
            }
            current = made
            return made
        }
        return await task.value
    }
}
