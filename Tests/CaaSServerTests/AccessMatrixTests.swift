import CaaSModel
@testable import CaaSServer
import Foundation
import Testing

/// Every route of the route table, called without a token, as each role that lacks its
/// permission, as the wrong kind of caller (system vs. tenant), and — for routes that name an
/// object — as another tenant. New routes are covered by being in the table.
@Suite struct AccessMatrixTests {
    /// Bodies that are valid for each mutating action, so a 404 is not hidden behind a 400.
    static let sampleBodies: [String: String] = [
        "tenants.create": #"{"name":"matrix-made"}"#,
        "tenants.update": #"{"display_name":"x"}"#,
        "tenants.suspend": #"{"reason":"matrix"}"#,
        "tokens.create": #"{"name":"matrix","role":"viewer"}"#,
        "tenants.tokens.create": #"{"name":"matrix","role":"viewer"}"#,
    ]

    @Test func everyRouteAnswersWrongCallersAsDeclared() async throws {
        let api = try await APIHarness.make("access_matrix")
        let a = try await api.makeTenant("alpha")
        let b = try await api.makeTenant("beta")
        // Objects of tenant A that routes may name.
        var values = ["tenant_id": a.id, "token_id": a.tokenIDs["viewer"]!]
        // One object of every resource kind of tenant A (issue 4).
        values.merge(try await ResourceSamples.make(api, tenant: a).values) { old, _ in old }
        // Jobs of the scheduler's queue (system routes) are numbered.
        values["job_id"] = "1"
        var checked = 0
        for route in api.plane.routes {
            var path = route.path
            for name in route.parameterNames {
                let value = try #require(values[name], "no sample value for {\(name)} of \(route.method) \(route.path): add one")
                path = path.replacingOccurrences(of: "{\(name)}", with: value)
            }
            let body = route.method == "GET" || route.method == "DELETE" ? nil : (Self.sampleBodies[route.action] ?? ResourceSamples.bodies[route.action] ?? "{}")
            let label = "\(route.method) \(route.path)"

            let anonymous = try await api.call(route.method, path, token: nil, body: body)
            #expect(anonymous.status == 401, "\(label) without a token: \(anonymous.text)")
            #expect(anonymous.header("WWW-Authenticate")?.hasPrefix("Bearer") == true, "\(label)")

            let garbage = try await api.call(route.method, path, token: "caas_" + String(repeating: "a", count: 52), body: body)
            #expect(garbage.status == 401, "\(label) with an unknown token")

            switch route.access {
            case .system:
                for role in ["admin", "operator", "viewer"] {
                    let reply = try await api.call(route.method, path, token: a.tokens[role], body: body)
                    #expect(reply.status == 403, "\(label) as tenant \(role): \(reply.text)")
                    #expect(reply["type"]?.stringValue == APIError.typeBase + "forbidden")
                }
            case .tenant(let permission), .tenantOrSystem(let permission):
                for role in Role.tenantRoles where !role.permissions.contains(permission) {
                    let reply = try await api.call(route.method, path, token: a.tokens[role.rawValue], body: body)
                    #expect(reply.status == 403, "\(label) as \(role.rawValue): \(reply.text)")
                }
                if case .tenant = route.access {
                    let reply = try await api.call(route.method, path, token: api.systemToken, body: body)
                    #expect(reply.status == 403, "\(label) as the system administrator: \(reply.text)")
                }
                if !route.parameterNames.isEmpty {
                    // Tenant B's admin has every permission, but A's objects do not exist for it.
                    let reply = try await api.call(route.method, path, token: b.tokens["admin"], body: body)
                    #expect(reply.status == 404, "\(label) as another tenant: \(reply.text)")
                    // A guessed id of the right shape is not found either.
                    var guessed = route.path
                    for name in route.parameterNames {
                        let value = route.idParameters[name].map { CaaSModel.Identifier.make($0) } ?? values[name]!
                        guessed = guessed.replacingOccurrences(of: "{\(name)}", with: value)
                    }
                    let guess = try await api.call(route.method, guessed, token: b.tokens["admin"], body: body)
                    #expect(guess.status == 404, "\(label) with a guessed id: \(guess.text)")
                }
            case .anonymous:
                break
            }
            checked += 1
        }
        #expect(checked == api.plane.routes.count)
        // Nothing of A changed: its viewer token still works.
        let still = try await api.call("GET", "/v1/tenant", token: a.tokens["viewer"])
        #expect(still.status == 200)
        #expect(still["name"]?.stringValue == "alpha")
    }

    @Test func rolesGrantNestedPermissions() {
        #expect(Role.admin.permissions == [.read, .operate, .administer])
        #expect(Role.operator.permissions == [.read, .operate])
        #expect(Role.viewer.permissions == [.read])
        #expect(Role.system.permissions.isEmpty)
        #expect(Access.system.decision(for: .admin) != .allowed)
        #expect(Access.tenantOrSystem(.administer).decision(for: .system) == .allowed)
        #expect(Access.tenant(.operate).decision(for: .viewer) != .allowed)
    }
}
