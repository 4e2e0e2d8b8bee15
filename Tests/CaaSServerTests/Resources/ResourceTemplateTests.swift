import CaaSCompose
@testable import CaaSServer
import Foundation
import Testing

@Suite struct ResourceTemplateTests {
    @Test func theTalkTemplatesAreAcceptedWithTheirVariablesAndDigest() async throws {
        let api = try await APIHarness.make("res_tpl_talk")
        let a = try await api.makeTenant("alpha")
        for file in ["restserver.yml", "wordpress-cloud.yml", "wordpress-mysql.yml", "autoscaling.yml"] {
            let text = try TalkTemplates.text(file)
            let name = String(file.dropLast(4))
            let reply = try await api.createTemplate(a.tokens["operator"]!, name: name, compose: text)
            #expect(reply.status == 201, "\(file): \(reply.text)")
            #expect(reply["latest_version"]?.integerValue == 1)
            let version = try #require(reply["current_version"])
            #expect(version["number"]?.integerValue == 1)
            #expect(version["author"]?.stringValue == "operator-1")
            #expect(version["compose"]?.stringValue == ComposeRedaction.redact(text).text, "shown as written, secret values redacted")
            #expect(version["compose"]?.stringValue?.contains("PASSWORD=xxxxxx") == false)
            #expect(version["compose"]?.stringValue?.contains("PASSWORD: password") == false)
            #expect(version["digest"]?.stringValue?.hasPrefix("sha256:") == true)
            #expect(version["digest"]?.stringValue?.count == 7 + 64)
        }
        let list = try await api.call("GET", "/v1/templates?name_prefix=wordpress", token: a.tokens["viewer"])
        #expect(list.items.compactMap { $0["name"]?.stringValue }.sorted() == ["wordpress-cloud", "wordpress-mysql"])
    }

    @Test func invalidComposeIs422WithLineColumnAndPathAndStoresNothing() async throws {
        let api = try await APIHarness.make("res_tpl_invalid")
        let a = try await api.makeTenant("alpha")
        let text = "services:\n  web:\n    image: nginx\n    ports:\n      - \"80:80\"\n      - \"99999:80\"\n    restart: sometimes\n"
        let reply = try await api.createTemplate(a.tokens["admin"]!, name: "broken", compose: text)
        #expect(reply.status == 422, "\(reply.text)")
        #expect(reply.header("Content-Type") == "application/problem+json")
        #expect(reply.problemType == APIError.typeBase + "invalid-compose")
        let errors = reply.problemErrors
        #expect(errors.count >= 2, "all errors at once: \(reply.text)")
        let ports = try #require(errors.first { $0["path"]?.stringValue == "services.web.ports[1]" }, "\(reply.text)")
        #expect(ports["line"]?.integerValue == 6)
        #expect(ports["column"]?.integerValue != nil)
        #expect(errors.contains { $0["path"]?.stringValue == "services.web.restart" && $0["line"]?.integerValue == 7 })
        #expect((try await api.call("GET", "/v1/templates", token: a.tokens["admin"])).items.isEmpty)
        let yaml = try await api.createTemplate(a.tokens["admin"]!, name: "yaml", compose: "services:\n  web: [\n")
        #expect(yaml.status == 422)
        #expect(yaml.problemErrors.first?["line"]?.integerValue != nil, "\(yaml.text)")
    }

    @Test func validateReturnsTheSpecOrEveryError() async throws {
        let api = try await APIHarness.make("res_tpl_validate")
        let a = try await api.makeTenant("alpha")
        let viewer = a.tokens["viewer"]!
        let good = try await api.call("POST", "/v1/templates/validate", token: viewer,
                                      body: #"{"compose":\#(jsonString(try TalkTemplates.text("wordpress-cloud.yml")))}"#)
        #expect(good.status == 200, "\(good.text)")
        #expect(good["valid"] == .bool(true))
        let services = good["spec"]?["services"]
        guard case .array(let list)? = services else { Issue.record("no services: \(good.text)"); return }
        #expect(list.first?["name"]?.stringValue == "wordpress")
        #expect(list.first?["replicas"]?.integerValue == 3)
        // Secret-looking environment values are never echoed.
        #expect(!good.text.contains("\"xxxxxx\""), "\(good.text)")
        #expect(good["spec"]?["external_services"] != nil)
        // Valid, but not silently: what caas parses and does not deliver is said at its line.
        guard case .array(let warnings)? = good["warnings"] else { Issue.record("no warnings: \(good.text)"); return }
        #expect(warnings.map { $0["line"]?.integerValue } == [8], "\(good.text)")
        #expect(warnings.first?["path"]?.stringValue == "services.wordpress.links")
        #expect(warnings.first?["detail"]?.stringValue?.contains("node_subnets networking only") == true, "\(good.text)")
        let withVariables = try await api.call("POST", "/v1/templates/validate", token: viewer,
                                               body: #"{"compose":"services:\n  web:\n    image: \"nginx:${TAG:?give a tag}\"\n","variables":{}}"#)
        #expect(withVariables["valid"] == .bool(false))
        #expect(withVariables["missing_variables"] == .array([.string("TAG")]))
        let bad = try await api.call("POST", "/v1/templates/validate", token: viewer, body: #"{"compose":"services:\n  web:\n    ports: [1]\n"}"#)
        #expect(bad.status == 200)
        #expect(bad["valid"] == .bool(false))
        guard case .array(let errors)? = bad["errors"] else { Issue.record("no errors: \(bad.text)"); return }
        #expect(!errors.isEmpty)
        #expect(errors.allSatisfy { $0["line"]?.integerValue != nil && $0["path"]?.stringValue != nil })
    }

    @Test func versionsAreNumberedImmutableAndDiffed() async throws {
        let api = try await APIHarness.make("res_tpl_versions")
        let a = try await api.makeTenant("alpha")
        let op = a.tokens["operator"]!
        let v1 = "services:\n  web:\n    image: nginx:1\n    labels:\n      aliyun.scale: '2'\n"
        let v2 = "services:\n  web:\n    image: nginx:2\n    labels:\n      aliyun.scale: '2'\n    environment:\n      - LEVEL=${LEVEL:-info}\n      - DB_PASSWORD=${DB_PASSWORD}\n"
        let id = try #require(try await api.createTemplate(op, name: "web", compose: v1)["id"]?.stringValue)
        let second = try await api.call("POST", "/v1/templates/\(id)/versions", token: op, body: #"{"compose":\#(jsonString(v2)),"description":"nginx 2"}"#)
        #expect(second.status == 201, "\(second.text)")
        #expect(second["number"]?.integerValue == 2)
        #expect(second.header("Location") == "/v1/templates/\(id)/versions/2")
        let variables = second["variables"]
        guard case .array(let names)? = variables else { Issue.record("no variables: \(second.text)"); return }
        #expect(names.compactMap { $0["name"]?.stringValue } == ["LEVEL", "DB_PASSWORD"])
        #expect(names.first { $0["name"]?.stringValue == "DB_PASSWORD" }?["secret"] == .bool(true))
        #expect(names.first { $0["name"]?.stringValue == "LEVEL" }?["default"]?.stringValue == "info")

        let list = try await api.call("GET", "/v1/templates/\(id)/versions?limit=1", token: a.tokens["viewer"])
        #expect(list.items.map { $0["number"]?.integerValue } == [1])
        let next = try await api.call("GET", "/v1/templates/\(id)/versions?limit=1&cursor=\(list["next_cursor"]!.stringValue!)", token: op)
        #expect(next.items.map { $0["number"]?.integerValue } == [2])
        let one = try await api.call("GET", "/v1/templates/\(id)/versions/1", token: op)
        #expect(one["compose"]?.stringValue == v1)
        #expect((try await api.call("GET", "/v1/templates/\(id)/versions/9", token: op)).status == 404)
        #expect((try await api.call("GET", "/v1/templates/\(id)/versions/x", token: op)).status == 404)

        let diff = try await api.call("GET", "/v1/templates/\(id)/diff?from=1&to=2", token: op)
        #expect(diff.status == 200, "\(diff.text)")
        let text = try #require(diff["diff"]?.stringValue)
        #expect(text.hasPrefix("--- \(id)/versions/1\n+++ \(id)/versions/2\n@@ -1,5 +1,8 @@\n"), "\(text)")
        #expect(text.contains("-    image: nginx:1\n+    image: nginx:2\n"))
        #expect(text.contains("+      - LEVEL=${LEVEL:-info}\n"))
        let same = try await api.call("GET", "/v1/templates/\(id)/diff?from=2&to=2", token: op)
        #expect(same["identical"] == .bool(true))
        let defaulted = try await api.call("GET", "/v1/templates/\(id)/diff", token: op)
        #expect(defaulted["from"]?.integerValue == 1 && defaulted["to"]?.integerValue == 2, "newest against the one before")
        #expect((try await api.call("GET", "/v1/templates/\(id)/diff?from=one", token: op)).status == 400)
        #expect((try await api.call("GET", "/v1/templates/\(id)/diff?from=1&to=7", token: op)).status == 404)

        // The database refuses to change a version.
        let refused = try await api.raw { connection -> Bool in
            do { _ = try connection.execute("UPDATE template_versions SET compose = 'x'"); return false } catch { return true }
        }
        #expect(refused)
        // Deleting the newest version keeps its number retired.
        #expect((try await api.call("DELETE", "/v1/templates/\(id)/versions/2", token: op)).status == 204)
        let third = try await api.call("POST", "/v1/templates/\(id)/versions", token: op, body: #"{"compose":\#(jsonString(v1))}"#)
        #expect(third["number"]?.integerValue == 3)
        let stale = try await api.call("POST", "/v1/templates/\(id)/versions", token: op, body: #"{"compose":\#(jsonString(v1))}"#,
                                       headers: ["If-Match": "\"1\""])
        #expect(stale.status == 412)
    }

    @Test func aTemplateVersionInUseCannotBeDeleted() async throws {
        let api = try await APIHarness.make("res_tpl_in_use")
        let a = try await api.makeTenant("alpha")
        let admin = a.tokens["admin"]!
        let cluster = try #require(try await api.createCluster(admin, name: "prod")["id"]?.stringValue)
        let id = try #require(try await api.createTemplate(admin, name: "web", compose: "services:\n  web:\n    image: nginx\n")["id"]?.stringValue)
        _ = try await api.call("POST", "/v1/templates/\(id)/versions", token: admin, body: #"{"compose":"services:\n  web:\n    image: nginx:2\n"}"#)
        let app = try await api.deploy(admin, name: "blog", cluster: cluster, source: #""template_id":"\#(id)","template_version":1"#)
        #expect(app.status == 202, "\(app.text)")
        let refused = try await api.call("DELETE", "/v1/templates/\(id)/versions/1", token: admin)
        #expect(refused.status == 409, "\(refused.text)")
        #expect(refused["detail"]?.stringValue?.contains("blog (\(app["id"]!.stringValue!))") == true, "\(refused.text)")
        let whole = try await api.call("DELETE", "/v1/templates/\(id)", token: admin)
        #expect(whole.status == 409)
        #expect(whole["detail"]?.stringValue?.contains("blog") == true)
        #expect((try await api.call("DELETE", "/v1/templates/\(id)/versions/2", token: admin)).status == 204, "an unused version goes")
        // Once the application is gone the version can go too.
        #expect((try await api.call("DELETE", "/v1/apps/\(app["id"]!.stringValue!)", token: admin)).status == 204)
        #expect((try await api.call("DELETE", "/v1/templates/\(id)/versions/1", token: admin)).status == 204)
        #expect((try await api.call("DELETE", "/v1/templates/\(id)", token: admin)).status == 204)
    }
}
