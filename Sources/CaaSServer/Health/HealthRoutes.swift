import CaaSHTTP
import CaaSPostgres

/// `GET /healthz` (the process answers), `GET /readyz` (the database answers and every migration
/// is applied) and `GET /v1/version`: served outside the API pipeline, without authentication,
/// for load balancers, orchestrators and clients checking what they talk to.
public struct HealthRoutes: Sendable {
    /// Whether the server can serve requests now; `nil` means ready, a text says why not.
    public typealias ReadinessCheck = @Sendable () async -> String?

    let readiness: ReadinessCheck

    public init(readiness: @escaping ReadinessCheck) {
        self.readiness = readiness
    }

    /// Ready when `SELECT 1` answers on `pool` and `migrator` has nothing pending or changed.
    public init(pool: PostgresPool, migrator: Migrator) {
        self.readiness = {
            do {
                _ = try await pool.withConnection { try $0.query("SELECT 1") }
            } catch {
                return "database unreachable: \(error)"
            }
            do {
                let status = try await migrator.status()
                if !status.changed.isEmpty {
                    return "applied migrations changed since: " + status.changed.map(\.fileName).joined(separator: ", ")
                }
                if !status.pending.isEmpty {
                    return "migrations pending: " + status.pending.map(\.fileName).joined(separator: ", ")
                }
            } catch {
                return "migration status unknown: \(error)"
            }
            return nil
        }
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
