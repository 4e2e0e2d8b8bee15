import CaaSHTTP
@testable import CaaSServer
import Foundation
import Testing

@Suite struct AuthAndAuditTests {
    @Test func tokenGuessingFromOneAddressIsRateLimited() async throws {
        let api = try await APIHarness.make("guessing") { $0.authFailureBurst = 3; $0.authFailurePerSecond = 0.01 }
        for n in 0..<3 {
            let guess = "caas_" + String(repeating: "a", count: 51) + ["b", "c", "d"][n]
            let reply = try await api.call("GET", "/v1/tenant", token: guess, from: "127.0.0.9:1000")
            #expect(reply.status == 401)
        }
        let limited = try await api.call("GET", "/v1/tenant", token: "caas_" + String(repeating: "z", count: 52), from: "127.0.0.9:1001")
        #expect(limited.status == 429)
        #expect(Int(limited.header("Retry-After") ?? "") ?? 0 >= 1)
        // A right token from that address still gets in (only failures are throttled: behind a
        // NAT or a load balancer, one guesser must not lock everyone out); its failures stay 429.
        let right = try await api.call("GET", "/v1/tenants", token: api.systemToken, from: "127.0.0.9:1002")
        #expect(right.status == 200)
        let again = try await api.call("GET", "/v1/tenant", token: "caas_" + String(repeating: "y", count: 52), from: "127.0.0.9:1003")
        #expect(again.status == 429)
        // Another address is not affected.
        let elsewhere = try await api.call("GET", "/v1/tenant", token: "caas_" + String(repeating: "x", count: 52), from: "127.0.0.10:1000")
        #expect(elsewhere.status == 401)
    }

    @Test func behindATrustedProxyTheForwardedClientIsThrottled() async throws {
        let api = try await APIHarness.make("guessing_proxied") {
            $0.authFailureBurst = 2; $0.authFailurePerSecond = 0.01
            $0.trustedProxies = try! TrustedProxies.parse("127.0.0.0/24")
        }
        let guess = "caas_" + String(repeating: "q", count: 52)
        // Two clients behind one load balancer: the guesser's budget runs out, the other's does not.
        for _ in 0..<2 {
            #expect(try await api.call("GET", "/v1/tenant", token: guess, headers: ["X-Forwarded-For": "203.0.113.5"], from: "127.0.0.1:9").status == 401)
        }
        #expect(try await api.call("GET", "/v1/tenant", token: guess, headers: ["X-Forwarded-For": "203.0.113.5"], from: "127.0.0.1:9").status == 429)
        #expect(try await api.call("GET", "/v1/tenant", token: guess, headers: ["X-Forwarded-For": "203.0.113.6"], from: "127.0.0.1:9").status == 401)
        // A guesser cannot dodge its budget by writing its own hops at the left: the proxy's
        // rightmost entry is what counts.
        #expect(try await api.call("GET", "/v1/tenant", token: guess, headers: ["X-Forwarded-For": "198.51.100.1, 203.0.113.5"], from: "127.0.0.1:9").status == 429)
        // From a peer that is not a trusted proxy the header is ignored: the peer is the client.
        let direct = try await api.call("GET", "/v1/tenant", token: guess, headers: ["X-Forwarded-For": "203.0.113.7"], from: "127.0.1.1:9")
        #expect(direct.status == 401)
        #expect(try await api.call("GET", "/v1/tenant", token: guess, headers: ["X-Forwarded-For": "203.0.113.8"], from: "127.0.1.1:9").status == 401)
        #expect(try await api.call("GET", "/v1/tenant", token: guess, headers: ["X-Forwarded-For": "203.0.113.9"], from: "127.0.1.1:9").status == 429)
    }

    @Test func trustedProxiesReadForwardedForFromTheRight() throws {
        let proxies = try TrustedProxies.parse("10.0.0.0/8, 192.0.2.7, ::1")
        #expect(proxies.trusts("10.1.2.3") && proxies.trusts("192.0.2.7") && proxies.trusts("::1"))
        #expect(!proxies.trusts("192.0.2.8") && !proxies.trusts("11.0.0.1"))
        #expect(proxies.client(peer: "10.0.0.1", forwardedFor: "203.0.113.1") == "203.0.113.1")
        #expect(proxies.client(peer: "10.0.0.1", forwardedFor: "6.6.6.6, 203.0.113.1, 10.0.0.2") == "203.0.113.1")
        #expect(proxies.client(peer: "10.0.0.1", forwardedFor: "[2001:db8::1]:443") == "2001:db8::1")
        #expect(proxies.client(peer: "10.0.0.1", forwardedFor: nil) == "10.0.0.1")
        #expect(proxies.client(peer: "198.51.100.1", forwardedFor: "203.0.113.1") == "198.51.100.1")
        // Every hop a proxy: the leftmost one is the client as far as anyone can tell.
        #expect(proxies.client(peer: "10.0.0.1", forwardedFor: "10.0.0.3, 10.0.0.2") == "10.0.0.3")
        #expect(TrustedProxies.bare("127.0.0.1:5123") == "127.0.0.1" && TrustedProxies.bare("[::1]:5123") == "::1")
        for bad in ["10.0.0.0/33", "example.com", "10.0.0", "::g"] {
            let error = #expect(throws: TrustedProxies.ParseError.self) { try TrustedProxies.parse("192.0.2.1," + bad) }
            #expect(error?.message.hasPrefix(bad) == true, "\(String(describing: error))")
        }
    }

    @Test func theSystemTokenRotatesAndTheOldOneStopsWorking() async throws {
        let api = try await APIHarness.make("system_rotate")
        #expect(try await api.call("GET", "/v1/tenants", token: api.systemToken).status == 200)
        let rotated = try await api.plane.rotateSystemToken()
        #expect(try await api.call("GET", "/v1/tenants", token: api.systemToken).status == 401, "the old token stopped working")
        #expect(try await api.call("GET", "/v1/tenants", token: rotated).status == 200)
        // A changed CAAS_BOOTSTRAP_TOKEN is a rotation too.
        var settings = api.plane.settings
        let fresh = try TokenSecret.generate()
        settings.bootstrapToken = fresh
        let restarted = ControlPlane(store: api.plane.store, settings: settings, logger: api.plane.logger)
        let result = try await restarted.bootstrap(print: { _ in })
        #expect(result.revokedSystemTokens == 1)
        #expect(try await api.call("GET", "/v1/tenants", token: rotated).status == 401)
        #expect(try await api.call("GET", "/v1/tenants", token: fresh).status == 200)
        // The same one again on the next start changes nothing.
        #expect(try await restarted.bootstrap(print: { _ in }).revokedSystemTokens == 0)
        #expect(try await api.call("GET", "/v1/tenants", token: fresh).status == 200)
    }

    @Test func eachTokenHasARateLimit() async throws {
        let api = try await APIHarness.make("token_rate") { $0.rateLimitBurst = 5; $0.rateLimitPerSecond = 0.01 }
        var statuses: [Int] = []
        for _ in 0..<7 { statuses.append(try await api.call("GET", "/v1/tenants", token: api.systemToken).status) }
        #expect(statuses == [200, 200, 200, 200, 200, 429, 429])
        let reply = try await api.call("GET", "/v1/tenants", token: api.systemToken)
        #expect(reply.header("Retry-After") != nil)
        #expect(reply["type"]?.stringValue == APIError.typeBase + "rate-limited")
    }

    @Test func revokedExpiredAndMalformedTokensGet401() async throws {
        let api = try await APIHarness.make("token_life")
        let a = try await api.makeTenant("alpha")
        let admin = a.tokens["admin"]!
        let viewerID = a.tokenIDs["viewer"]!
        #expect(try await api.call("GET", "/v1/tenant", token: a.tokens["viewer"]).status == 200)
        let revoked = try await api.call("DELETE", "/v1/tokens/\(viewerID)", token: admin)
        #expect(revoked.status == 200 && revoked["revoked_at"] != .null)
        let after = try await api.call("GET", "/v1/tenant", token: a.tokens["viewer"])
        #expect(after.status == 401 && after.header("WWW-Authenticate")?.contains("invalid_token") == true)

        let soon = Timestamp.format(Date().addingTimeInterval(1.2))
        let expiring = try await api.call("POST", "/v1/tokens", token: admin, body: #"{"name":"short","role":"viewer","expires_at":"\#(soon)"}"#)
        #expect(expiring.status == 201, "\(expiring.text)")
        let secret = expiring["secret"]!.stringValue!
        #expect(secret.hasPrefix("caas_") && secret.count >= 5 + 52)
        #expect(try await api.call("GET", "/v1/tenant", token: secret).status == 200)
        try await Task.sleep(nanoseconds: 1_500_000_000)
        #expect(try await api.call("GET", "/v1/tenant", token: secret).status == 401)

        for header in ["Basic abc", "Bearer", "Bearer caas_short", "Bearer x" + String(repeating: "a", count: 60)] {
            let reply = try await api.call("GET", "/v1/tenant", token: nil, headers: ["Authorization": header])
            #expect(reply.status == 401, "\(header)")
        }
        // The token's use is recorded.
        let listed = try await api.call("GET", "/v1/tokens/\(a.tokenIDs["admin"]!)", token: admin)
        #expect(listed["last_used_at"] != .null)
        #expect(listed["secret"] == nil)
    }

    @Test func aSuspendedTenantIsRefusedWithTheReason() async throws {
        let api = try await APIHarness.make("suspend")
        let a = try await api.makeTenant("alpha")
        let suspended = try await api.call("POST", "/v1/tenants/\(a.id)/suspend", token: api.systemToken, body: #"{"reason":"unpaid invoice"}"#)
        #expect(suspended.status == 200 && suspended["status"]?.stringValue == "suspended")
        let refused = try await api.call("GET", "/v1/tenant", token: a.tokens["viewer"])
        #expect(refused.status == 403)
        #expect(refused["type"]?.stringValue == APIError.typeBase + "tenant-suspended")
        #expect(refused["detail"]?.stringValue?.contains("unpaid invoice") == true)
        let resumed = try await api.call("POST", "/v1/tenants/\(a.id)/resume", token: api.systemToken)
        #expect(resumed.status == 200, "\(resumed.text)")
        #expect(try await api.call("GET", "/v1/tenant", token: a.tokens["viewer"]).status == 200)
        let deleted = try await api.call("DELETE", "/v1/tenants/\(a.id)", token: api.systemToken)
        #expect(deleted.status == 204)
        #expect(try await api.call("GET", "/v1/tenant", token: a.tokens["admin"]).status == 401)
        #expect(try await api.call("GET", "/v1/tenants/\(a.id)", token: api.systemToken).status == 404)
    }

    @Test func mutatingCallsAreAuditedAndTenantsSeeOnlyTheirOwn() async throws {
        let api = try await APIHarness.make("audit")
        let a = try await api.makeTenant("alpha")
        let b = try await api.makeTenant("beta")
        _ = try await api.call("POST", "/v1/tokens", token: a.tokens["admin"], body: #"{"name":"ci","role":"operator"}"#,
                               headers: ["X-Request-Id": "audit-req-1"])
        _ = try await api.call("POST", "/v1/tokens", token: a.tokens["admin"], body: #"{"name":"BAD","role":"operator"}"#)
        _ = try await api.call("POST", "/v1/tokens", token: b.tokens["admin"], body: #"{"name":"bee","role":"viewer"}"#)
        _ = try await api.call("POST", "/v1/tokens", token: a.tokens["viewer"], body: #"{"name":"sneaky","role":"admin"}"#)

        let own = try await api.call("GET", "/v1/audit?action=tokens", token: a.tokens["admin"])
        #expect(own.status == 200)
        guard case .array(let entries) = own["items"]! else { Issue.record("no items"); return }
        #expect(entries.count == 3)
        #expect(entries.allSatisfy { $0["tenant_id"]?.stringValue == a.id })
        let first = entries.last!
        #expect(first["action"]?.stringValue == "tokens.create")
        #expect(first["outcome"]?.integerValue == 201)
        #expect(first["token_name"]?.stringValue == "admin-1")
        #expect(first["request_id"]?.stringValue == "audit-req-1")
        #expect(first["target"]?.stringValue?.hasPrefix("tok_") == true)
        let failures = try await api.call("GET", "/v1/audit?outcome=failure", token: a.tokens["admin"])
        if case .array(let items) = failures["items"]! {
            #expect(Set(items.compactMap { $0["outcome"]?.integerValue }) == [400, 403])
        }
        #expect(try await api.call("GET", "/v1/audit", token: a.tokens["operator"]).status == 403)
        #expect(try await api.call("GET", "/v1/audit?tenant_id=\(b.id)", token: a.tokens["admin"]).status == 403)

        let all = try await api.call("GET", "/v1/audit?action=tokens.create&limit=2", token: api.systemToken)
        #expect(all["next_cursor"] != .null)
        let onlyB = try await api.call("GET", "/v1/audit?tenant_id=\(b.id)&action=tokens.create", token: api.systemToken)
        if case .array(let items) = onlyB["items"]! {
            #expect(items.count == 1 && items[0]["tenant_id"]?.stringValue == b.id)
        }
        let since = try await api.call("GET", "/v1/audit?since=2999-01-01T00:00:00Z", token: api.systemToken)
        if case .array(let items) = since["items"]! { #expect(items.isEmpty) }
    }

    @Test func tokenSecretsAreLongRandomAndStoredOnlyAsDigests() throws {
        let one = try TokenSecret.generate(), two = try TokenSecret.generate()
        #expect(one != two)
        #expect(one.hasPrefix("caas_") && one.count == 5 + 52)
        #expect(TokenSecret.isWellFormed(one))
        #expect(TokenSecret.digestHex(one).count == 64)
        #expect(!TokenSecret.isWellFormed("caas_ABC"))
    }
}
