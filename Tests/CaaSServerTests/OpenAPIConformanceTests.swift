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

    @Test func nulCharactersAre400NamingTheFieldNot500() async throws {
        let api = try await APIHarness.make("nul_strings")
        let tenant = try await api.makeTenant("nul")
        let suspend = try await api.call("POST", "/v1/tenants/\(tenant.id)/suspend", token: api.systemToken, body: #"{"reason":"a\u0000b"}"#)
        #expect(suspend.status == 400 && suspend.text.contains("\"pointer\":\"/reason\""), "\(suspend.text)")
        let labels = try await api.call("POST", "/v1/clusters", token: tenant.tokens["admin"], body: #"{"name":"c","labels":{"a\u0000":"x"}}"#)
        #expect(labels.status == 400, "\(labels.text)")
        let query = try await api.call("GET", "/v1/clusters?name_prefix=a%00", token: tenant.tokens["admin"])
        #expect(query.status == 400 && query.text.contains("\"pointer\":\"name_prefix\""), "\(query.text)")
        let unchanged = try await api.call("GET", "/v1/tenants/\(tenant.id)", token: api.systemToken)
        #expect(unchanged["status"]?.stringValue == "active")
    }

    @Test func everyRFC3339DateTimeIsRead() throws {
        #expect(Timestamp.parse("1970-01-01T00:00:00Z")?.timeIntervalSince1970 == 0)
        #expect(Timestamp.parse("1970-01-01t01:00:00+01:00")?.timeIntervalSince1970 == 0)
        #expect(Timestamp.parse("1970-01-01T00:00:00.25z")?.timeIntervalSince1970 == 0.25)
        #expect(Timestamp.parse("2000-02-29T12:00:00Z")?.timeIntervalSince1970 == 951_825_600)
        // Early years and odd offsets (Foundation's parser refuses these).
        #expect(Timestamp.parse("0580-09-16T18:09:41-23:13") != nil)
        #expect(Timestamp.parse("0000-01-01T00:00:00Z")?.timeIntervalSince1970 == -62_167_219_200)
        #expect(Timestamp.parse("2016-12-31T23:59:60Z")?.timeIntervalSince1970 == 1_483_228_800)
        for bad in ["2001-02-29T00:00:00Z", "2001-13-01T00:00:00Z", "2001-01-01T24:00:00Z", "2001-01-01T00:00:00",
                    "2001-01-01 00:00:00Z", "2001-01-01T00:00:00.Z", "2001-01-01T00:00:00+24:00", "yesterday", ""] {
            #expect(Timestamp.parse(bad) == nil, "\(bad)")
        }
    }

    @Test func integralNumbersAreIntegersAndLabelLimitsCountCharacters() async throws {
        let api = try await APIHarness.make("integral_numbers")
        let created = try await api.call("POST", "/v1/tenants", token: api.systemToken, body: #"{"name":"ints","quotas":{"clusters":3.0}}"#)
        #expect(created.status == 201, "\(created.text)")
        #expect(created["quotas"]?["clusters"]?.integerValue == 3, "\(created.text)")
        let fraction = try await api.call("POST", "/v1/tenants", token: api.systemToken, body: #"{"name":"frac","quotas":{"clusters":3.5}}"#)
        #expect(fraction.status == 400 && fraction.text.contains("/quotas/clusters"))

        let tenant = try await api.makeTenant("labels")
        let value = String(repeating: "é", count: 256)  // 512 bytes, 256 characters: maxLength 256
        let accepted = try await api.call("POST", "/v1/clusters", token: tenant.tokens["admin"], body: #"{"name":"c1","labels":{"k":"\#(value)"}}"#)
        #expect(accepted.status == 201, "\(accepted.text)")
        let longer = try await api.call("POST", "/v1/clusters", token: tenant.tokens["admin"], body: #"{"name":"c2","labels":{"k":"\#(value)é"}}"#)
        #expect(longer.status == 400 && longer.text.contains("/labels/k"), "\(longer.text)")
        let space = try await api.call("POST", "/v1/clusters", token: tenant.tokens["admin"], body: #"{"name":"c3","labels":{"a\u0085b":"x"}}"#)
        #expect(space.status == 400, "\(space.text)")
    }

    @Test func tlsForAUnixEndpointIs422() async throws {
        let api = try await APIHarness.make("node_tls")
        let tenant = try await api.makeTenant("tls")
        let admin = tenant.tokens["admin"]!
        let cluster = try await api.call("POST", "/v1/clusters", token: admin, body: #"{"name":"c"}"#)
        let id = try #require(cluster["id"]?.stringValue)
        let node = try await api.call("POST", "/v1/clusters/\(id)/nodes", token: admin,
                                      body: #"{"name":"n1","engine_endpoint":"unix:///run/x.sock","engine_tls":true}"#)
        #expect(node.status == 422 && node.text.contains("/engine_tls"), "\(node.text)")
    }
}
