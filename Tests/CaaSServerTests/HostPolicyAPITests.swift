import CaaSModel
@testable import CaaSServer
import Foundation
import Testing

/// `GET/PUT /v1/tenants/{id}/policy`, and the policy at work where compose text is validated and
/// deployed: what it refuses is an `invalid-compose` error at the compose line.
@Suite struct HostPolicyAPITests {
    static let rootBind = """
    services:
      web:
        image: nginx
        volumes:
          - /:/host
    """

    static let dataBind = """
    services:
      web:
        image: nginx
        volumes:
          - /srv/data/www:/usr/share/nginx/html:ro
        cap_add: [NET_ADMIN]
    """

    @Test func onlyTheSystemAdministratorSetsAPolicyAndATenantsAdminsReadTheirOwn() async throws {
        let api = try await APIHarness.make("policy_access")
        let a = try await api.makeTenant("alpha")
        let b = try await api.makeTenant("beta")
        let path = "/v1/tenants/\(a.id)/policy"

        let standard = try await api.call("GET", path, token: api.systemToken)
        #expect(standard.status == 200, "\(standard.text)")
        #expect(standard.json == PolicyRoutes.view(.standard))
        #expect(standard["bind_prefixes"] == .array([]))
        #expect(standard["host_network"] == .bool(true))
        #expect(standard["privileged"] == .bool(false))
        #expect(standard["external_volumes"] == .bool(true))
        let etag = try #require(standard.header("ETag"))

        #expect(try await api.call("GET", path, token: a.tokens["admin"]).status == 200)
        #expect(try await api.call("GET", path, token: a.tokens["operator"]).status == 403)
        #expect(try await api.call("GET", path, token: a.tokens["viewer"]).status == 403)
        #expect(try await api.call("GET", path, token: b.tokens["admin"]).status == 404, "another tenant's policy does not exist")

        let wanted = #"{"bind_prefixes":["/srv/data/"],"privileged":true,"capabilities":["cap_net_admin"]}"#
        for role in ["admin", "operator", "viewer"] {
            let reply = try await api.call("PUT", path, token: a.tokens[role], body: wanted)
            #expect(reply.status == 403, "tenant \(role) set its own policy: \(reply.text)")
        }
        #expect(try await api.call("GET", path, token: api.systemToken).json == standard.json, "nothing changed")

        let set = try await api.call("PUT", path, token: api.systemToken, body: wanted, headers: ["If-Match": etag])
        #expect(set.status == 200, "\(set.text)")
        #expect(set["bind_prefixes"] == .array([.string("/srv/data")]), "stored normalised")
        #expect(set["capabilities"] == .array([.string("NET_ADMIN")]))
        #expect(set["privileged"] == .bool(true))
        #expect(set["host_pid"] == .bool(false), "left out: the default")
        #expect(set.header("ETag") != etag)
        #expect(try await api.call("GET", path, token: a.tokens["admin"]).json == set.json)

        let stale = try await api.call("PUT", path, token: api.systemToken, body: "{}", headers: ["If-Match": etag])
        #expect(stale.status == 412, "\(stale.text)")

        let audit = try await api.call("GET", "/v1/audit?action=tenants.policy.replace&tenant_id=\(a.id)", token: api.systemToken)
        #expect(audit.items.contains { $0["target"]?.stringValue == a.id && $0["outcome"]?.integerValue == 200 }, "\(audit.text)")
    }

    @Test func badPolicyValuesAre422NamingEachMember() async throws {
        let api = try await APIHarness.make("policy_values")
        let a = try await api.makeTenant("alpha")
        let path = "/v1/tenants/\(a.id)/policy"
        let bad = try await api.call("PUT", path, token: api.systemToken,
                                     body: #"{"bind_prefixes":["/srv/ok","srv/data","/srv/../etc"],"capabilities":["NET_ADMIN","FLY"],"device_prefixes":["dev"]}"#)
        #expect(bad.status == 422, "\(bad.text)")
        #expect(bad.header("Content-Type")?.hasPrefix("application/problem+json") == true)
        #expect(bad.pointers == ["/bind_prefixes/1", "/bind_prefixes/2", "/device_prefixes/0", "/capabilities/1"], "\(bad.text)")

        let unknown = try await api.call("PUT", path, token: api.systemToken, body: #"{"allow_everything":true}"#)
        #expect(unknown.status == 400, "\(unknown.text)")
        #expect(unknown.pointers == ["/allow_everything"], "\(unknown.text)")
        let wrongType = try await api.call("PUT", path, token: api.systemToken, body: #"{"privileged":"yes"}"#)
        #expect(wrongType.status == 400)
        #expect(wrongType.pointers == ["/privileged"])
        #expect(try await api.call("GET", path, token: api.systemToken).json == PolicyRoutes.view(.standard))
    }

    @Test func whatThePolicyRefusesIsRefusedAtValidateAndCreateNamingTheLine() async throws {
        let api = try await APIHarness.make("policy_refusal")
        let a = try await api.makeTenant("alpha")
        let op = a.tokens["operator"]!
        let cluster = try #require(try await api.createCluster(a.tokens["admin"]!, name: "prod")["id"]?.stringValue)

        // Validation: the viewer sees why, at the line.
        let validated = try await api.call("POST", "/v1/templates/validate", token: a.tokens["viewer"],
                                           body: #"{"compose":\#(jsonString(Self.rootBind))}"#)
        #expect(validated.status == 200)
        #expect(validated["valid"] == .bool(false))
        guard case .array(let errors)? = validated["errors"] else { Issue.record("no errors: \(validated.text)"); return }
        #expect(errors.count == 1)
        #expect(errors.first?["line"]?.integerValue == 5)
        #expect(errors.first?["path"]?.stringValue == "services.web.volumes[0]")
        #expect(errors.first?["detail"]?.stringValue?.contains("never mountable") == true, "\(validated.text)")

        // Create from inline compose and from a template: 422 invalid-compose at the line; nothing stored.
        let inline = try await api.deploy(op, name: "root", cluster: cluster, source: #""compose":\#(jsonString(Self.rootBind))"#)
        #expect(inline.status == 422, "\(inline.text)")
        #expect(inline.problemType == APIError.typeBase + "invalid-compose")
        #expect(inline.problemErrors.first?["line"]?.integerValue == 5)
        #expect(inline.problemErrors.first?["pointer"]?.stringValue == "/compose")

        let template = try #require(try await api.createTemplate(op, name: "data", compose: Self.dataBind)["id"]?.stringValue,
                                    "a template is stored as written; the policy rules where it is deployed")
        let fromTemplate = try await api.deploy(op, name: "data", cluster: cluster, source: #""template_id":"\#(template)""#)
        #expect(fromTemplate.status == 422, "\(fromTemplate.text)")
        let lines = fromTemplate.problemErrors.compactMap { $0["line"]?.integerValue }
        #expect(lines == [5, 6], "the bind and the capability: \(fromTemplate.text)")
        #expect(fromTemplate.problemErrors.first?["detail"]?.stringValue?.contains("'/srv/data/www' is not allowed by the tenant's host policy") == true)
        #expect(try await api.call("GET", "/v1/apps", token: op).items.isEmpty)

        // The system administrator allows the prefix and the capability: the same template deploys.
        let allowed = try await api.call("PUT", "/v1/tenants/\(a.id)/policy", token: api.systemToken,
                                         body: #"{"bind_prefixes":["/srv/data"],"capabilities":["NET_ADMIN"]}"#)
        #expect(allowed.status == 200, "\(allowed.text)")
        let deployed = try await api.deploy(op, name: "data", cluster: cluster, source: #""template_id":"\#(template)""#)
        #expect(deployed.status == 202, "\(deployed.text)")
        let validNow = try await api.call("POST", "/v1/templates/validate", token: a.tokens["viewer"], body: #"{"compose":\#(jsonString(Self.dataBind))}"#)
        #expect(validNow["valid"] == .bool(true), "\(validNow.text)")
        // The root of the host stays refused whatever the prefixes: it holds the engine socket.
        let stillRoot = try await api.deploy(op, name: "root", cluster: cluster, source: #""compose":\#(jsonString(Self.rootBind))"#)
        #expect(stillRoot.status == 422)

        // Stricter again: the deployed application stays as it is; its next update is checked.
        let app = try #require(deployed["id"]?.stringValue)
        #expect(try await api.call("PUT", "/v1/tenants/\(a.id)/policy", token: api.systemToken, body: "{}").status == 200)
        let still = try await api.call("GET", "/v1/apps/\(app)", token: op)
        #expect(still.status == 200)
        #expect(still["generation"]?.integerValue == 1)
        let update = try await api.call("POST", "/v1/apps/\(app)/update", token: op, body: #"{"variables":{"X":"1"}}"#)
        #expect(update.status == 422, "\(update.text)")
        #expect(update.problemType == APIError.typeBase + "invalid-compose")
        #expect(update.problemErrors.compactMap { $0["line"]?.integerValue } == [5, 6])
    }

    @Test func everyHostFeatureIsRefusedByDefaultAndHostNetworkIsNot() async throws {
        let api = try await APIHarness.make("policy_features")
        let a = try await api.makeTenant("alpha")
        let text = """
        services:
          tool:
            image: busybox
            network_mode: host
            privileged: true
            cap_add: [SYS_ADMIN]
            devices: ["/dev/fuse"]
            pid: host
            ipc: host
          web:
            image: nginx
            volumes: ["shared:/data", "./app:/app"]
        volumes:
          shared:
            external: true
        """
        let reply = try await api.call("POST", "/v1/templates/validate", token: a.tokens["viewer"], body: #"{"compose":\#(jsonString(text))}"#)
        guard case .array(let errors)? = reply["errors"] else { Issue.record("\(reply.text)"); return }
        let found = errors.map { "\($0["line"]?.integerValue ?? 0) \($0["detail"]?.stringValue ?? "")" }
        #expect(found.count == 6, "\(found)")
        for (line, words) in [(5, "privileged mode"), (6, "capability SYS_ADMIN"), (7, "device '/dev/fuse'"), (8, "pid 'host'"),
                              (9, "ipc 'host'"), (12, "'./app' is relative")] {
            #expect(found.contains { $0.hasPrefix("\(line) ") && $0.contains(words) }, "line \(line): \(found)")
        }

        let strict = try await api.call("PUT", "/v1/tenants/\(a.id)/policy", token: api.systemToken,
                                        body: #"{"host_network":false,"external_volumes":false}"#)
        #expect(strict.status == 200)
        let refused = try await api.call("POST", "/v1/templates/validate", token: a.tokens["viewer"], body: #"{"compose":\#(jsonString(text))}"#)
        guard case .array(let more)? = refused["errors"] else { Issue.record("\(refused.text)"); return }
        let details = more.map { "\($0["line"]?.integerValue ?? 0) \($0["detail"]?.stringValue ?? "")" }
        #expect(details.contains { $0.hasPrefix("4 ") && $0.contains("network_mode 'host'") }, "\(details)")
        #expect(details.contains { $0.hasPrefix("15 ") && $0.contains("external volume 'shared'") }, "\(details)")
    }
}
