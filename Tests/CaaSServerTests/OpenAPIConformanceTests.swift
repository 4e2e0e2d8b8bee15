@testable import CaaSServer
import Foundation
import Testing

/// What scripts/check-api.sh (schemathesis against a live server) found the server doing against
/// openapi.yaml, pinned here: each answer is the status the document gives for it.
@Suite struct OpenAPIConformanceTests {
    @Test func allowNamesOnlyTheMethodsOfRoutesThePathCanBe() async throws {
        let api = try await APIHarness.make("allow_methods")
        let tenant = try await api.makeTenant("allow")
        let admin = tenant.tokens["admin"]!
        // `/v1/templates/validate` fits `/v1/templates/{template_id}` by shape, but is no template id.
        let validate = try await api.call("OPTIONS", "/v1/templates/validate", token: admin)
        #expect(validate.status == 405)
        #expect(validate.header("Allow") == "POST", "\(validate.headers)")
        let template = try await api.call("PUT", "/v1/templates/tpl_00000000000000000000", token: admin)
        #expect(template.status == 405)
        let methods = Set((template.header("Allow") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        #expect(methods == ["GET", "PATCH", "DELETE"], "\(template.headers)")
    }

    @Test func wellFormedButImpossibleValuesAre422NamingTheMember() async throws {
        let api = try await APIHarness.make("unprocessable_values")
        let tenant = try await api.makeTenant("values")
        let admin = tenant.tokens["admin"]!
        let past = try await api.call("POST", "/v1/tokens", token: admin,
                                      body: #"{"name":"late","role":"viewer","expires_at":"2001-01-01T00:00:00Z"}"#)
        #expect(past.status == 422, "\(past.text)")
        #expect(past["type"]?.stringValue == APIError.typeBase + "unprocessable")
        #expect(past.text.contains("/expires_at"))
        let malformed = try await api.call("POST", "/v1/tokens", token: admin,
                                           body: #"{"name":"late","role":"viewer","expires_at":"yesterday"}"#)
        #expect(malformed.status == 400)

        let subnet = try await api.call("POST", "/v1/clusters", token: admin,
                                        body: #"{"name":"c1","network_cidr":"10.42.0.0/16","node_subnet_prefix":12}"#)
        #expect(subnet.status == 422, "\(subnet.text)")
        #expect(subnet.text.contains("/node_subnet_prefix"))
        let hostBits = try await api.call("POST", "/v1/clusters", token: admin, body: #"{"name":"c1","network_cidr":"10.42.0.1/16"}"#)
        #expect(hostBits.status == 422, "\(hostBits.text)")
        #expect(hostBits.text.contains("/network_cidr"))
        let syntax = try await api.call("POST", "/v1/clusters", token: admin, body: #"{"name":"c1","network_cidr":"10.42.0/16"}"#)
        #expect(syntax.status == 400, "\(syntax.text)")
    }

    @Test func jobListRefusesALimitOutOfRangeOrAForeignCursor() async throws {
        let api = try await APIHarness.make("jobs_limit")
        for query in ["limit=501", "limit=0", "limit=ten", "cursor=abc", "cursor=-4"] {
            let reply = try await api.call("GET", "/v1/admin/jobs?\(query)", token: api.systemToken)
            #expect(reply.status == 400, "\(query): \(reply.text)")
            #expect(reply.text.contains(query.hasPrefix("limit") ? "\"pointer\":\"limit\"" : "\"pointer\":\"cursor\""), "\(reply.text)")
        }
        let fine = try await api.call("GET", "/v1/admin/jobs?limit=500&cursor=", token: api.systemToken)
        #expect(fine.status == 200, "\(fine.text)")
    }

    @Test func eventCursorsAndAuditFiltersAreCheckedWhereverTheyArrive() async throws {
        let api = try await APIHarness.make("cursor_headers")
        let tenant = try await api.makeTenant("cursors")
        let viewer = tenant.tokens["viewer"]!
        // A malformed Last-Event-ID is named even when `after` (which wins) is given too.
        let both = try await api.call("GET", "/v1/events?after=0", token: viewer, headers: ["Last-Event-ID": ""])
        #expect(both.status == 400 && both.text.contains("\"pointer\":\"Last-Event-ID\""), "\(both.text)")
        let header = try await api.call("GET", "/v1/events", token: viewer, headers: ["Last-Event-ID": "x1"])
        #expect(header.status == 400, "\(header.text)")
        let fine = try await api.call("GET", "/v1/events?after=1", token: viewer, headers: ["Last-Event-ID": "0"])
        #expect(fine.status == 200, "\(fine.text)")

        // tenant_id of the audit log: an id of a tenant (400 otherwise), and only for the system administrator (403).
        let foreign = try await api.call("GET", "/v1/audit?tenant_id=\(tenant.id)", token: tenant.tokens["admin"])
        #expect(foreign.status == 403, "\(foreign.text)")
        let malformed = try await api.call("GET", "/v1/audit?tenant_id=acme", token: api.systemToken)
        #expect(malformed.status == 400 && malformed.text.contains("\"pointer\":\"tenant_id\""), "\(malformed.text)")
        let system = try await api.call("GET", "/v1/audit?tenant_id=\(tenant.id)", token: api.systemToken)
        #expect(system.status == 200, "\(system.text)")
    }
}
