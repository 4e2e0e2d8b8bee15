/// What a route needs. Roles grant permissions; routes declare the one they need (see `APIRoute`).
public enum Permission: String, Sendable, CaseIterable, Comparable {
    /// Read the tenant's objects.
    case read
    /// Deploy, scale, change the tenant's workloads.
    case operate
    /// Manage the tenant's tokens, read its audit log.
    case administer

    public static func < (a: Permission, b: Permission) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// A token's role. `system` belongs to the system administrator, who has no tenant.
public enum Role: String, Sendable, CaseIterable, Codable {
    case admin
    case `operator`
    case viewer
    case system

    /// The permissions a tenant role grants; the system role grants none inside a tenant.
    public var permissions: Set<Permission> {
        switch self {
        case .admin: [.read, .operate, .administer]
        case .operator: [.read, .operate]
        case .viewer: [.read]
        case .system: []
        }
    }

    public static let tenantRoles: [Role] = [.admin, .operator, .viewer]
}

/// Who may call a route.
public enum Access: Sendable, Equatable {
    /// A tenant token whose role grants the permission.
    case tenant(Permission)
    /// The system administrator only.
    case system
    /// A tenant token with the permission (scoped to its tenant), or the system administrator
    /// (across tenants).
    case tenantOrSystem(Permission)
    /// No token needed.
    case anonymous

    /// Whether a token of `role` may call the route; the reason when not.
    public func decision(for role: Role) -> AccessDecision {
        switch (self, role) {
        case (.anonymous, _): return .allowed
        case (.system, .system): return .allowed
        case (.system, _): return .denied("only the system administrator may do this")
        case (.tenant, .system):
            return .denied("the system administrator has no tenant: use a token of the tenant")
        case (.tenantOrSystem, .system): return .allowed
        case (.tenant(let permission), _), (.tenantOrSystem(let permission), _):
            return role.permissions.contains(permission)
                ? .allowed
                : .denied("role \(role.rawValue) lacks the \(permission.rawValue) permission")
        }
    }
}

public enum AccessDecision: Sendable, Equatable {
    case allowed
    case denied(String)
}
