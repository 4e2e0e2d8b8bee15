import CaaSModel
import CaaSStore
import Foundation

/// What `ControlPlane.bootstrap()` did.
public struct BootstrapResult: Sendable, Equatable {
    /// The system administrator's secret when it was generated now (printed once, never again).
    public var systemToken: String?
    /// In dev mode, the default tenant's admin secret when the tenant was created now.
    public var devTenantToken: String?
    public var devTenantID: String?
    /// System administrator tokens a changed `CAAS_BOOTSTRAP_TOKEN` revoked.
    public var revokedSystemTokens = 0
}

extension ControlPlane {
    public static let devTenantName = "default"

    /// Start-up work, safe on every start and on several replicas at once:
    /// 1. refuses to run when the database role would bypass row-level security;
    /// 2. makes sure the system administrator has a token: `CAAS_BOOTSTRAP_TOKEN` when set (stored
    ///    as its digest; a changed one replaces the system tokens before it, which stop working),
    ///    otherwise — when no live system token exists — a new one, printed once;
    /// 3. with `--dev`, creates the tenant `default` and prints its admin token once.
    @discardableResult
    public func bootstrap(print output: @Sendable (String) -> Void = { Swift.print($0) }) async throws -> BootstrapResult {
        try await store.verifyRowSecurity()
        let provided = settings.bootstrapToken
        let generated = try TokenSecret.generate()
        let devSecret = try TokenSecret.generate()
        let dev = self.dev
        let result = try await store.systemTransaction { tx -> BootstrapResult in
            try tx.lockBootstrap()
            var result = BootstrapResult()
            if let provided {
                let digest = TokenSecret.digestHex(provided)
                if try tx.credential(digestHex: digest) == nil {
                    _ = try tx.createSystemToken(NewToken(id: Identifier.make(.token), name: "bootstrap", role: "system",
                                                          digestHex: digest, expiresAt: nil, createdBy: nil))
                    // A new CAAS_BOOTSTRAP_TOKEN is a rotation: the system tokens before it stop working.
                    result.revokedSystemTokens = try tx.revokeSystemTokens(keeping: digest)
                }
            } else if try tx.liveSystemTokenCount() == 0 {
                _ = try tx.createSystemToken(NewToken(id: Identifier.make(.token), name: "bootstrap", role: "system",
                                                      digestHex: TokenSecret.digestHex(generated), expiresAt: nil, createdBy: nil))
                result.systemToken = generated
            }
            if dev, try tx.tenant(named: ControlPlane.devTenantName) == nil {
                let id = Identifier.make(.tenant)
                _ = try tx.createTenant(id: id, name: ControlPlane.devTenantName, displayName: "Default (dev)", quotas: [:])
                _ = try tx.createToken(in: id, NewToken(id: Identifier.make(.token), name: "dev-admin", role: "admin",
                                                        digestHex: TokenSecret.digestHex(devSecret), expiresAt: nil, createdBy: nil))
                result.devTenantToken = devSecret
                result.devTenantID = id
            }
            return result
        }
        if let token = result.systemToken {
            output("caas: system administrator token (shown once, keep it safe): \(token)")
        }
        if let token = result.devTenantToken {
            output("caas: dev tenant '\(ControlPlane.devTenantName)' admin token (shown once): \(token)")
        }
        return result
    }

    /// `caas-server rotate-system-token`: a new system administrator token, answered once; every
    /// earlier one (including a `CAAS_BOOTSTRAP_TOKEN`'s) stops working at once.
    public func rotateSystemToken() async throws -> String {
        let secret = try TokenSecret.generate()
        try await store.systemTransaction { tx in
            try tx.lockBootstrap()
            try tx.revokeSystemTokens(keeping: nil)
            _ = try tx.createSystemToken(NewToken(id: Identifier.make(.token), name: "rotated", role: "system",
                                                  digestHex: TokenSecret.digestHex(secret), expiresAt: nil, createdBy: nil))
        }
        return secret
    }

    /// Deletes events, idempotency keys and audit entries past their retention (one replica at a time).
    @discardableResult
    public func prune() async throws -> PruneCounts? {
        let policy = settings.retention
        return try await store.systemTransaction { tx -> PruneCounts? in
            guard try tx.trySingletonLock("caas.retention") else { return nil }
            return try tx.prune(policy)
        }
    }
}
