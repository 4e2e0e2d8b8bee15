import CaaSHTTP
@testable import CaaSServer
import Foundation
import Testing

@Suite struct ConventionsTests {
    @Test func badBodiesAreRejectedWithTheFieldNamed() async throws {
        let api = try await APIHarness.make("bad_input")
        let a = try await api.makeTenant("alpha")
        let admin = a.tokens["admin"]!
        let cases: [(body: String, pointer: String?, slug: String)] = [
            (#"{"name": "x", "role": "admin""#, nil, "malformed-json"),
            ("", nil, "malformed-json"),
            (#"{"name":"a","name":"b","role":"admin"}"#, nil, "malformed-json"),
            (#"{"name": 5, "role": "admin"}"#, "/name", "invalid-body"),
            (#"{"name": "ok", "role": ["admin"]}"#, "/role", "invalid-body"),
            (#"{"name": "ok", "role": "admin", "colour": "red"}"#, "/colour", "invalid-body"),
            (#"{"role": "admin"}"#, "/name", "invalid-body"),
            (#"{"name": "", "role": "admin"}"#, "/name", "invalid-body"),
            (#"{"name": "\#(String(repeating: "a", count: 64))", "role": "admin"}"#, "/name", "invalid-body"),
            (#"{"name": "Bad_Name", "role": "admin"}"#, "/name", "invalid-body"),
            (#"{"name": "-lead", "role": "admin"}"#, "/name", "invalid-body"),
            (#"{"name": "trail-", "role": "admin"}"#, "/name", "invalid-body"),
            (#"{"name": "x'; DROP TABLE api_tokens; --", "role": "admin"}"#, "/name", "invalid-body"),
            (#"{"name": "ok", "role": "root"}"#, "/role", "invalid-body"),
            (#"{"name": "ok", "role": "admin", "expires_at": "yesterday"}"#, "/expires_at", "invalid-body"),
            ("[1,2]", "", "invalid-body"),
        ]
        for (body, pointer, slug) in cases {
            let reply = try await api.call("POST", "/v1/tokens", token: admin, body: body)
            #expect(reply.status == 400, "\(body): \(reply.text)")
            #expect(reply.header("Content-Type") == "application/problem+json")
            #expect(reply["type"]?.stringValue == APIError.typeBase + slug, "\(body): \(reply.text)")
            if let pointer {
                let pointers = reply["errors"].flatMap { if case .array(let items) = $0 { items.compactMap { $0["pointer"]?.stringValue } } else { nil } }
                #expect(pointers?.contains(pointer) == true, "\(body) should name \(pointer): \(reply.text)")
            }
        }
        let named = try await api.call("POST", "/v1/tokens", token: admin, body: #"{"name": "ok", "role": "admin", "colour": "red"}"#)
        #expect(named["detail"]?.stringValue?.contains("colour") == true)
        // Nothing was created by any of them.
        let list = try await api.call("GET", "/v1/tokens", token: admin)
        #expect(list["items"].map { if case .array(let items) = $0 { items.count } else { -1 } } == 3)
    }

    @Test func problemsNeverEchoAnUnboundedPathOrId() async throws {
        let api = try await APIHarness.make("conv_echo")
        let long = String(repeating: "x", count: 8000)
        for target in ["/v1/" + long, "/v1/apps/app_" + long] {
            let reply = try await api.call("GET", target, token: api.systemToken)
            #expect((400..<500).contains(reply.status), "\(reply.status) \(reply.text.prefix(300))")
            #expect(reply.body.count < 1500, "the problem repeats \(reply.body.count) bytes")
            #expect(!reply.text.contains(String(repeating: "x", count: 300)))
        }
    }

    @Test func sqlMetaCharactersInStringsAreHarmless() async throws {
        let api = try await APIHarness.make("sql_meta")
        let nasty = #"x'); DROP TABLE tenants; -- \" ; SELECT pg_sleep(5); %_\\"#
        let escaped = String(decoding: try JSONEncoderForTests.string(nasty), as: UTF8.self)
        let created = try await api.call("POST", "/v1/tenants", token: api.systemToken, body: #"{"name":"meta","display_name":\#(escaped)}"#)
        #expect(created.status == 201, "\(created.text)")
        #expect(created["display_name"]?.stringValue == nasty)
        let id = created["id"]!.stringValue!
        let suspended = try await api.call("POST", "/v1/tenants/\(id)/suspend", token: api.systemToken, body: #"{"reason":\#(escaped)}"#)
        #expect(suspended["suspended_reason"]?.stringValue == nasty)
        for query in ["name_prefix=%27%3B--", "name_prefix=%25", "status=active%27--"] {
            let reply = try await api.call("GET", "/v1/tenants?\(query)", token: api.systemToken)
            #expect(reply.status == 200 || reply.status == 400, "\(query): \(reply.text)")
        }
        let audit = try await api.call("GET", "/v1/audit?action=%27%3B%20DROP%20TABLE%20audit_log%3B--&target=%27", token: api.systemToken)
        #expect(audit.status == 200)
        let tenants = try await api.call("GET", "/v1/tenants", token: api.systemToken)
        #expect(tenants.status == 200)
        let bad = try await api.call("GET", "/v1/tenants/ten_'%20OR%201=1--", token: api.systemToken)
        #expect(bad.status == 404)
    }

    @Test func listsPageWithAnOpaqueCursorInAStableOrder() async throws {
        let api = try await APIHarness.make("paging")
        let a = try await api.makeTenant("alpha")
        let admin = a.tokens["admin"]!
        for n in 0..<4 { _ = try await api.call("POST", "/v1/tokens", token: admin, body: #"{"name":"t\#(n)","role":"viewer"}"#) }
        var seen: [String] = []
        var cursor: String? = nil
        var pages = 0
        repeat {
            let reply = try await api.call("GET", "/v1/tokens?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""), token: admin)
            #expect(reply.status == 200)
            if case .array(let items) = reply["items"]! { seen += items.compactMap { $0["id"]?.stringValue } }
            cursor = reply["next_cursor"]?.stringValue
            pages += 1
        } while cursor != nil && pages < 10
        #expect(seen.count == 7 && Set(seen).count == 7)
        #expect(pages == 4)
        let everything = try await api.call("GET", "/v1/tokens?limit=500", token: admin)
        if case .array(let items) = everything["items"]! { #expect(items.compactMap { $0["id"]?.stringValue } == seen) }
        for bad in ["limit=0", "limit=501", "limit=ten", "cursor=%21%21", "cursor=WyJ4Il0", "colour=red"] {
            let reply = try await api.call("GET", "/v1/tokens?\(bad)", token: admin)
            #expect(reply.status == 400, "\(bad): \(reply.text)")
        }
    }

    @Test func versionsTravelAsETagsAndStaleWritesGet412() async throws {
        let api = try await APIHarness.make("etags")
        let a = try await api.makeTenant("alpha")
        let path = "/v1/tenants/\(a.id)"
        let current = try await api.call("GET", path, token: api.systemToken)
        let etag = try #require(current.header("ETag"))
        let patched = try await api.call("PATCH", path, token: api.systemToken, body: #"{"quotas":{"clusters":3,"nodes":9}}"#,
                                         headers: ["If-Match": etag, "Content-Type": "application/merge-patch+json"])
        #expect(patched.status == 200, "\(patched.text)")
        #expect(patched["quotas"]?["clusters"]?.integerValue == 3)
        #expect(patched.header("ETag") != etag)
        let stale = try await api.call("PATCH", path, token: api.systemToken, body: #"{"display_name":"late"}"#, headers: ["If-Match": etag])
        #expect(stale.status == 412)
        #expect(stale["type"]?.stringValue == APIError.typeBase + "precondition-failed")
        // Merge patch: null removes one override, others stay.
        let removed = try await api.call("PATCH", path, token: api.systemToken, body: #"{"quotas":{"clusters":null}}"#)
        #expect(removed["quota_overrides"] == .object(["nodes": .integer(9)]))
        #expect(removed["quotas"]?["clusters"]?.integerValue == 10)
        let unknown = try await api.call("PATCH", path, token: api.systemToken, body: #"{"quotas":{"gpus":1}}"#)
        #expect(unknown.status == 400 && unknown.text.contains("gpus"))
        let wrongType = try await api.call("PATCH", path, token: api.systemToken, body: #"{"quotas":{"nodes":"many"}}"#)
        #expect(wrongType.status == 400 && wrongType.text.contains("/quotas/nodes"))
        let badMatch = try await api.call("PATCH", path, token: api.systemToken, body: "{}", headers: ["If-Match": "nonsense"])
        #expect(badMatch.status == 400)
        // RFC 9110: a well-formed entity-tag that is not the current one does not match: 412.
        for header in [#""anything""#, #"W/"1""#, #""999", "abc""#] {
            let reply = try await api.call("PATCH", path, token: api.systemToken, body: "{}", headers: ["If-Match": header])
            #expect(reply.status == 412, "\(header): \(reply.status) \(reply.text)")
        }
    }

    @Test func ifMatchIsReadAsRFC9110Says() {
        #expect(ETag.condition("*") == .any)
        #expect(ETag.condition(#""3""#) == .version(3))
        #expect(ETag.condition(#" "3" , W/"4", "x" "#) == .version(3))
        #expect(ETag.condition(#""x", W/"4""#) == ETag.Condition.none)
        #expect(ETag.condition(#""3", "4""#) == .several)
        for malformed in ["3", #""3"#, #""3" "4""#, #""a b""#, "", #""3","#] {
            #expect(ETag.condition(malformed) == .malformed, "\(malformed)")
        }
    }

    @Test func concurrentPostsWithOneIdempotencyKeyExecuteOnce() async throws {
        let api = try await APIHarness.make("idempotency")
        let a = try await api.makeTenant("alpha")
        let admin = a.tokens["admin"]!
        let body = #"{"name":"deploy-bot","role":"operator"}"#
        let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
            for _ in 0..<8 {
                group.addTask { try await api.call("POST", "/v1/tokens", token: admin, body: body, headers: ["Idempotency-Key": "k-1"]) }
            }
            var all: [Reply] = []
            for try await reply in group { all.append(reply) }
            return all
        }
        #expect(replies.allSatisfy { $0.status == 201 }, "\(replies.map(\.status))")
        #expect(Set(replies.compactMap { $0["id"]?.stringValue }).count == 1)
        #expect(replies.filter { $0.header("Idempotent-Replayed") == nil }.count == 1)
        #expect(replies.filter { $0["secret"] != nil }.count == 1, "the secret is shown once only")
        let list = try await api.call("GET", "/v1/tokens?role=operator", token: admin)
        if case .array(let items) = list["items"]! { #expect(items.count == 2) }  // operator-1 and deploy-bot
        // A replay is byte for byte the stored answer.
        let again1 = try await api.call("POST", "/v1/tokens", token: admin, body: body, headers: ["Idempotency-Key": "k-1"])
        let again2 = try await api.call("POST", "/v1/tokens", token: admin, body: body, headers: ["Idempotency-Key": "k-1"])
        #expect(again1.body == again2.body && again1.header("Idempotent-Replayed") == "true")
        let other = try await api.call("POST", "/v1/tokens", token: admin, body: #"{"name":"other","role":"viewer"}"#, headers: ["Idempotency-Key": "k-1"])
        #expect(other.status == 422)
        // Failed requests are replayed too (a 400 stays a 400).
        let bad1 = try await api.call("POST", "/v1/tokens", token: admin, body: "{", headers: ["Idempotency-Key": "k-2"])
        let bad2 = try await api.call("POST", "/v1/tokens", token: admin, body: "{", headers: ["Idempotency-Key": "k-2"])
        #expect(bad1.status == 400 && bad2.status == 400 && bad2.header("Idempotent-Replayed") == "true")
        let silly = try await api.call("POST", "/v1/tokens", token: admin, body: body, headers: ["Idempotency-Key": String(repeating: "k", count: 300)])
        #expect(silly.status == 400)
    }

    @Test func requestIDsAreEchoedOrMade() async throws {
        let api = try await APIHarness.make("request_id")
        let echoed = try await api.call("GET", "/v1/tenants", token: api.systemToken, headers: ["X-Request-Id": "abc-123"])
        #expect(echoed.header("X-Request-Id") == "abc-123")
        let made = try await api.call("GET", "/v1/tenants", token: api.systemToken, headers: ["X-Request-Id": "bad id\u{7f}"])
        #expect(made.header("X-Request-Id")?.hasPrefix("req_") == true)
        let missing = try await api.call("GET", "/v1/nothing-here", token: api.systemToken)
        #expect(missing.status == 404 && missing.header("X-Request-Id") != nil)
        let method = try await api.call("PUT", "/v1/tenants", token: api.systemToken)
        #expect(method.status == 405 && method.header("Allow")?.contains("GET") == true)
    }

    @Test func corsAnswersPreflightsForConfiguredOriginsOnly() async throws {
        let api = try await APIHarness.make("cors") { $0.corsOrigins = ["https://console.example"] }
        let preflight = try await api.call("OPTIONS", "/v1/tenants", token: nil, headers: [
            "Origin": "https://console.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Idempotency-Key",
        ])
        #expect(preflight.status == 204)
        #expect(preflight.header("Access-Control-Allow-Origin") == "https://console.example")
        #expect(preflight.header("Access-Control-Allow-Headers")?.contains("Idempotency-Key") == true)
        #expect(preflight.header("Vary") == "Origin")
        let stranger = try await api.call("OPTIONS", "/v1/tenants", token: nil, headers: ["Origin": "https://evil.example", "Access-Control-Request-Method": "POST"])
        #expect(stranger.header("Access-Control-Allow-Origin") == nil)
        let simple = try await api.call("GET", "/v1/tenants", token: api.systemToken, headers: ["Origin": "https://console.example"])
        #expect(simple.header("Access-Control-Allow-Origin") == "https://console.example")
        #expect(simple.header("Access-Control-Expose-Headers")?.contains("ETag") == true)
        #expect(simple.header("Vary") == "Origin")
    }
}

enum JSONEncoderForTests {
    static func string(_ text: String) throws -> [UInt8] {
        var out = ""
        JSONValue.quote(text, into: &out)
        return Array(out.utf8)
    }
}
