import CaaSStore

/// Who is calling: an authenticated token with its role and tenant.
public struct Principal: Sendable, Equatable {
    public var tokenID: String
    public var tokenName: String
    public var role: Role
    /// `nil` for the system administrator.
    public var tenantID: String?
    public var tenantName: String?

    /// The scope of the caller's tenant; `nil` for the system administrator.
    public var scope: TenantScope? { tenantID.map(TenantScope.init(tenantID:)) }
    public var isSystem: Bool { role == .system }
}
