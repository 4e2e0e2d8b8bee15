import CaaSModel
@testable import CaaSServer
import CaaSStore
import Foundation
import Testing

@Suite struct ResourceApplicationTests {
    /// Reconcile jobs queued for one application (no workers run here, so they stay queued).
    func queuedReconciles(_ api: APIHarness, app: String) async throws -> Int {
        try await api.raw { try $0.query("SELECT count(*)::int8 AS n FROM jobs WHERE kind = 'reconcile' AND state = 'queued' AND payload->>'application_id' = $1",
                                         [app])[0].decode("n", as: Int.self) }
    }

    /// Services of an application by name.
    func services(_ api: APIHarness, _ token: String, app: String) async throws -> [String: JSONValue] {
        let reply = try await api.call("GET", "/v1/apps/\(app)/services", token: token)
        #expect(reply.status == 200, "\(reply.text)")
        return Dictionary(uniqueKeysWithValues: reply.items.map { ($0["name"]!.stringValue!, $0) })
    }

    @Test func theTalkTemplatesDeployWithTheDesiredCountsTheTalkShows() async throws {
        let api = try await APIHarness.make("res_app_talk")
        let a = try await api.makeTenant("alpha")
        let op = a.tokens["operator"]!
        let cluster = try #require(try await api.createCluster(a.tokens["admin"]!, name: "prod")["id"]?.stringValue)
        var apps: [String: String] = [:]
        for file in ["restserver.yml", "wordpress-cloud.yml", "wordpress-mysql.yml", "autoscaling.yml"] {
            let name = String(file.dropLast(4))
            let template = try #require(try await api.createTemplate(op, name: name, compose: try TalkTemplates.text(file))["id"]?.stringValue)
            let app = try await api.deploy(op, name: name, cluster: cluster, source: #""template_id":"\#(template)""#)
            #expect(app.status == 202, "\(file): \(app.text)")
            #expect(app["generation"]?.integerValue == 1)
            #expect(app["observed_generation"]?.integerValue == 0)
            #expect(app["status"]?.stringValue == "pending")
            #expect(app["template_version"]?.integerValue == 1)
            #expect(app["deployment"]?["strategy"]?.stringValue == "create")
            #expect(app["deployment"]?["status"]?.stringValue == "pending")
            #expect(app.header("Location") == "/v1/apps/\(app["id"]!.stringValue!)")
            apps[name] = app["id"]!.stringValue!
        }
        let rest = try await services(api, op, app: apps["restserver"]!)
        #expect(rest["server"]?["desired_replicas"]?.integerValue == 2)
        #expect(rest["client"]?["desired_replicas"]?.integerValue == 1)
        #expect(rest["server"]?["running_replicas"]?.integerValue == 0, "nothing pretends to run")
        #expect(rest["server"]?["status"]?.stringValue == "pending")

        let cloud = try await services(api, op, app: apps["wordpress-cloud"]!)
        #expect(cloud["wordpress"]?["desired_replicas"]?.integerValue == 3)
        #expect(cloud["wordpress"]?["kind"]?.stringValue == "container")
        #expect(cloud["db"]?["kind"]?.stringValue == "external")
        #expect(cloud["db"]?["status"]?.stringValue == "external")
        #expect(cloud["db"]?["endpoint"]?["host"]?.stringValue == "rdsxxxxxx.mysql.rds.aliyuncs.com")
        #expect(cloud["db"]?["endpoint"]?["ports"] == .array([.integer(3306)]))
        #expect(cloud["db"]?["desired_replicas"]?.integerValue == 0)
        let wordpress = try #require(cloud["wordpress"]?["spec"])
        #expect(!jsonText(wordpress).contains("\"xxxxxx\""), "the password is masked: \(jsonText(wordpress))")

        let mysql = try await services(api, op, app: apps["wordpress-mysql"]!)
        #expect(mysql["wordpress"]?["desired_replicas"]?.integerValue == 1)
        #expect(mysql["db"]?["desired_replicas"]?.integerValue == 1)
        let scaling = try await services(api, op, app: apps["autoscaling"]!)
        #expect(scaling["web"]?["desired_replicas"]?.integerValue == 2)

        // Desired state only: no container exists, one queued reconcile job per application.
        let containers = try await api.call("GET", "/v1/containers", token: op)
        #expect(containers.status == 200)
        #expect(containers.items.isEmpty)
        let requests = try await api.raw { try $0.query("SELECT count(*)::int8 AS n FROM jobs WHERE kind = 'reconcile' AND state = 'queued'")[0].decode("n", as: Int.self) }
        #expect(requests == 4)
        // The stored password of wordpress-cloud / wordpress-mysql is sealed at rest.
        let specs = try await api.raw { try $0.query("SELECT string_agg(spec::text, ' ') AS s FROM applications")[0].decode("s", as: String.self) }
        #expect(!specs.contains("\"xxxxxx\"") && !specs.contains("\"password\""), "secrets at rest are sealed")
        let filtered = try await api.call("GET", "/v1/apps?cluster_id=\(cluster)&name_prefix=wordpress", token: a.tokens["viewer"])
        #expect(filtered.items.count == 2)
        let events = try await api.call("GET", "/v1/events?after=0&type=app", token: op)
        #expect(events.items.filter { $0["type"]?.stringValue == "app.created" }.count == 4)
    }

    @Test func inlineComposeWithVariablesSealsSecretsAndReportsMissingOnes() async throws {
        let api = try await APIHarness.make("res_app_variables")
        let a = try await api.makeTenant("alpha")
        let op = a.tokens["operator"]!
        let cluster = try #require(try await api.createCluster(a.tokens["admin"]!, name: "prod")["id"]?.stringValue)
        let text = "services:\n  api:\n    image: \"acme/api:${TAG:?set TAG}\"\n    environment:\n      DB_PASSWORD: ${DB_PASSWORD}\n      LEVEL: ${LEVEL:-info}\n"
        let missing = try await api.deploy(op, name: "api", cluster: cluster, source: #""compose":\#(jsonString(text))"#)
        #expect(missing.status == 422, "\(missing.text)")
        #expect(missing.problemType == APIError.typeBase + "missing-variables")
        #expect(missing["missing_variables"] == .array([.string("TAG"), .string("DB_PASSWORD")]), "\(missing.text)")
        #expect(missing.problemErrors.first?["line"]?.integerValue == 3)

        let deployed = try await api.deploy(op, name: "api", cluster: cluster,
                                            source: #""compose":\#(jsonString(text)),"variables":{"TAG":"1.2","DB_PASSWORD":"hunter2-secret"}"#)
        #expect(deployed.status == 202, "\(deployed.text)")
        #expect(deployed["variables"] == .object(["TAG": .string("1.2"), "DB_PASSWORD": .string("***")]))
        #expect(!deployed.text.contains("hunter2"))
        #expect(deployed["source"]?.stringValue == "compose")
        let id = try #require(deployed["id"]?.stringValue)
        let stored = try await api.raw { try $0.query("SELECT spec::text || variables::text AS s FROM applications WHERE id = $1", [id])[0].decode("s", as: String.self) }
        #expect(!stored.contains("hunter2"), "sealed at rest")
        #expect(stored.contains("acme/api:1.2"))
        let read = try await api.call("GET", "/v1/apps/\(id)", token: a.tokens["viewer"])
        #expect(!read.text.contains("hunter2"))

        // New variables → a new generation; the sealed password survives a PATCH that does not name it.
        let patched = try await api.call("PATCH", "/v1/apps/\(id)", token: op, body: #"{"variables":{"TAG":"1.3"}}"#)
        #expect(patched.status == 202, "\(patched.text)")
        #expect(patched["generation"]?.integerValue == 2)
        #expect(patched["status"]?.stringValue == "deploying")
        #expect(patched["deployment"]?["from_generation"]?.integerValue == 1)
        #expect(patched["deployment"]?["to_generation"]?.integerValue == 2)
        #expect(patched["variables"]?["DB_PASSWORD"]?.stringValue == "***")
        let secrets = try ApplicationSecrets(key: api.plane.secretsKey, tenantID: a.id, applicationID: id)
        let variables = try await api.raw { try $0.query("SELECT variables::text AS v FROM applications WHERE id = $1", [id])[0].decode("v", as: String.self) }
        #expect(try secrets.openVariables(variables) == ["TAG": "1.3", "DB_PASSWORD": "hunter2-secret"])
        let deployments = try await api.call("GET", "/v1/apps/\(id)/deployments", token: op)
        #expect(deployments.items.map { $0["status"]?.stringValue } == ["superseded", "pending"])
        let onlyDescription = try await api.call("PATCH", "/v1/apps/\(id)", token: op, body: #"{"description":"the api"}"#)
        #expect(onlyDescription.status == 200)
        #expect(onlyDescription["generation"]?.integerValue == 2)
        let stale = try await api.call("PATCH", "/v1/apps/\(id)", token: op, body: #"{"description":"x"}"#, headers: ["If-Match": "\"1\""])
        #expect(stale.status == 412)
        let invalid = try await api.call("POST", "/v1/apps/\(id)/update", token: op, body: #"{"compose":"services:\n  api:\n    image: [x]\n"}"#)
        #expect(invalid.status == 422)
        #expect(invalid.problemErrors.first?["path"]?.stringValue == "services.api.image", "\(invalid.text)")
    }

    @Test func updatingToANewTemplateVersionMakesANewGenerationAndAdjustsServices() async throws {
        let api = try await APIHarness.make("res_app_update")
        let a = try await api.makeTenant("alpha")
        let op = a.tokens["operator"]!
        let cluster = try #require(try await api.createCluster(a.tokens["admin"]!, name: "prod")["id"]?.stringValue)
        let template = try #require(try await api.createTemplate(op, name: "stack", compose: "services:\n  web:\n    image: nginx:1\n  worker:\n    image: busybox\n")["id"]?.stringValue)
        _ = try await api.call("POST", "/v1/templates/\(template)/versions", token: op,
                               body: #"{"compose":"services:\n  web:\n    image: nginx:2\n    deploy:\n      replicas: 4\n  cache:\n    image: redis\n"}"#)
        let app = try #require(try await api.deploy(op, name: "stack", cluster: cluster, source: #""template_id":"\#(template)","template_version":1"#)["id"]?.stringValue)
        let before = try await services(api, op, app: app)
        #expect(Set(before.keys) == ["web", "worker"])
        let updated = try await api.call("POST", "/v1/apps/\(app)/update", token: op, body: #"{"template_version":2}"#)
        #expect(updated.status == 202, "\(updated.text)")
        #expect(updated["generation"]?.integerValue == 2)
        #expect(updated["template_version"]?.integerValue == 2)
        #expect(updated["deployment"]?["strategy"]?.stringValue == "rolling")
        #expect(updated["deployment"]?["progress"]?["total"]?.integerValue == 5)
        let after = try await services(api, op, app: app)
        #expect(Set(after.keys) == ["web", "cache"], "worker had no containers: gone")
        #expect(after["web"]?["id"] == before["web"]?["id"], "the same service, updated")
        #expect(after["web"]?["desired_replicas"]?.integerValue == 4)
        #expect(after["web"]?["image"]?.stringValue == "nginx:2")
        #expect(after["web"]?["generation"]?.integerValue == 2)
        #expect(try await queuedReconciles(api, app: app) == 1, "the update queued the application's reconcile (one, however many changes)")
        let deployment = try #require(updated["deployment"]?["id"]?.stringValue)
        let read = try await api.call("GET", "/v1/deployments/\(deployment)", token: a.tokens["viewer"])
        #expect(read.status == 200)
        #expect(read["generation"]?.integerValue == 2)
        #expect(read["deadline"]?.stringValue != nil)
        let unknownVersion = try await api.call("POST", "/v1/apps/\(app)/update", token: op, body: #"{"template_version":9}"#)
        #expect(unknownVersion.status == 422, "\(unknownVersion.text)")
    }

    @Test func scalingSetsDesiredCountsAndRefusesExternalServices() async throws {
        let api = try await APIHarness.make("res_app_scale")
        let a = try await api.makeTenant("alpha")
        let op = a.tokens["operator"]!
        let cluster = try #require(try await api.createCluster(a.tokens["admin"]!, name: "prod")["id"]?.stringValue)
        let template = try #require(try await api.createTemplate(op, name: "wp", compose: try TalkTemplates.text("wordpress-cloud.yml"))["id"]?.stringValue)
        let app = try #require(try await api.deploy(op, name: "wp", cluster: cluster, source: #""template_id":"\#(template)""#)["id"]?.stringValue)
        let all = try await services(api, op, app: app)
        let wordpress = try #require(all["wordpress"]?["id"]?.stringValue)
        let db = try #require(all["db"]?["id"]?.stringValue)
        let scaled = try await api.call("POST", "/v1/services/\(wordpress)/scale", token: op, body: #"{"replicas":5}"#, headers: ["Idempotency-Key": "scale-5"])
        #expect(scaled.status == 200, "\(scaled.text)")
        #expect(scaled["desired_replicas"]?.integerValue == 5)
        let replay = try await api.call("POST", "/v1/services/\(wordpress)/scale", token: op, body: #"{"replicas":5}"#, headers: ["Idempotency-Key": "scale-5"])
        #expect(replay.header("Idempotent-Replayed") == "true")
        let reused = try await api.call("POST", "/v1/services/\(wordpress)/scale", token: op, body: #"{"replicas":2}"#, headers: ["Idempotency-Key": "scale-5"])
        #expect(reused.status == 422)
        let down = try await api.call("PATCH", "/v1/services/\(wordpress)", token: op, body: #"{"replicas":2}"#, headers: ["If-Match": scaled.header("ETag")!])
        #expect(down.status == 200, "\(down.text)")
        #expect(down["desired_replicas"]?.integerValue == 2)
        let stale = try await api.call("PATCH", "/v1/services/\(wordpress)", token: op, body: #"{"replicas":3}"#, headers: ["If-Match": scaled.header("ETag")!])
        #expect(stale.status == 412)
        #expect((try await api.call("POST", "/v1/services/\(wordpress)/scale", token: op, body: #"{"replicas":-1}"#)).status == 400)
        #expect((try await api.call("POST", "/v1/services/\(wordpress)/scale", token: a.tokens["viewer"], body: #"{"replicas":1}"#)).status == 403)
        let external = try await api.call("POST", "/v1/services/\(db)/scale", token: op, body: #"{"replicas":2}"#)
        #expect(external.status == 409)
        #expect(external["detail"]?.stringValue?.contains("external") == true)
        let events = try await api.call("GET", "/v1/events?after=0&type=service", token: op)
        #expect(events.items.compactMap { $0["summary"]?.stringValue } == ["service wordpress scaled from 3 to 5", "service wordpress scaled from 5 to 2"])
        #expect(try await queuedReconciles(api, app: app) == 1, "scaling queued the application's reconcile")
        // Running is counted from containers: one the agent reports running counts.
        let node = try #require(try await api.createNode(a.tokens["admin"]!, cluster: cluster, name: "n1")["id"]?.stringValue)
        let quotas = api.plane.settings.quotaDefaults
        let containerID = Identifier.make(.container)
        _ = try await api.plane.store.transaction(.init(tenantID: a.id)) { tx in
            try tx.createContainer(.init(id: containerID, serviceID: wordpress, nodeID: node, slot: 0, generation: 1), quotas: quotas)
        }
        // The agent's report says where the container serves; the API shows it.
        let reported = try await api.agentReport(cluster: cluster, [
            ContainerObservation(containerId: containerID, nodeId: node, state: .running, health: .healthy, address: "127.0.1.1:20345",
                                 ports: [DesiredPort(containerPort: 80, hostPort: 20345)], observedAt: Date()),
        ])
        #expect(reported.transitions == 1)
        let read = try await api.call("GET", "/v1/services/\(wordpress)", token: op)
        #expect(read["running_replicas"]?.integerValue == 1)
        #expect(read["status"]?.stringValue == "degraded")
        let listed = try await api.call("GET", "/v1/containers?service=\(wordpress)&state=running", token: op)
        #expect(listed.items.count == 1)
        #expect(listed.items.first?["address"]?.stringValue == "127.0.1.1:20345")
        #expect(listed.items.first?["service_name"]?.stringValue == "wordpress")
        #expect(listed.items.first?["ports"] == .array([.object(["container_port": .integer(80), "host_port": .integer(20345),
                                                                 "host_address": .null, "protocol": .string("tcp")])]))
        let one = try await api.call("GET", "/v1/containers/\(containerID)", token: op)
        #expect(one["address"]?.stringValue == "127.0.1.1:20345")
        #expect((try await api.call("GET", "/v1/containers?state=exited", token: op)).items.isEmpty)
        #expect((try await api.call("GET", "/v1/containers?state=sideways", token: op)).status == 400)
        #expect((try await api.call("GET", "/v1/containers?app=bogus", token: op)).status == 400)
    }

    @Test func anApplicationFromAnImageHasOneServiceWithTheGivenScale() async throws {
        let api = try await APIHarness.make("res_app_image")
        let a = try await api.makeTenant("alpha")
        let op = a.tokens["operator"]!
        let cluster = try #require(try await api.createCluster(a.tokens["admin"]!, name: "prod")["id"]?.stringValue)
        let digest = "sha256:" + String(repeating: "ab", count: 32)
        let tomcat = try await api.call("POST", "/v1/images", token: op,
                                        body: #"{"repository":"library/tomcat","tag":"8.5","digest":"\#(digest)","description":"Apache Tomcat"}"#)
        #expect(tomcat.status == 201, "\(tomcat.text)")
        _ = try await api.call("POST", "/v1/images", token: op, body: #"{"repository":"library/nginx","tag":"1.25"}"#)
        _ = try await api.call("POST", "/v1/images", token: op, body: #"{"repository":"library/tomcat","tag":"9"}"#)
        let search = try await api.call("GET", "/v1/images?q=TOM", token: a.tokens["viewer"])
        #expect(search.items.compactMap { $0["tag"]?.stringValue } == ["8.5", "9"])
        #expect((try await api.call("GET", "/v1/images?q=%25", token: op)).items.isEmpty, "no wildcards")
        #expect((try await api.call("POST", "/v1/images", token: op, body: #"{"repository":"library/tomcat","tag":"8.5"}"#)).status == 409)
        #expect((try await api.call("POST", "/v1/images", token: op, body: #"{"repository":"Library/Tomcat"}"#)).status == 400)
        #expect((try await api.call("POST", "/v1/images", token: op, body: #"{"repository":"tomcat","digest":"md5:x"}"#)).status == 400)

        let imageID = try #require(tomcat["id"]?.stringValue)
        let app = try await api.deploy(op, name: "tomcat-cluster", cluster: cluster,
                                       source: #""image_id":"\#(imageID)","replicas":3,"ports":[8080],"environment":{"JAVA_OPTS":"-Xmx512m","ADMIN_PASSWORD":"tiger"}"#)
        #expect(app.status == 202, "\(app.text)")
        #expect(app["source"]?.stringValue == "image")
        #expect(app["image_id"]?.stringValue == imageID)
        #expect(!app.text.contains("tiger"))
        let appID = try #require(app["id"]?.stringValue)
        let all = try await services(api, op, app: appID)
        #expect(all.count == 1)
        let service = try #require(all["tomcat"])
        #expect(service["desired_replicas"]?.integerValue == 3)
        #expect(service["image"]?.stringValue == "library/tomcat@\(digest)")
        #expect(service["spec"]?["ports"] != nil)
        let byReference = try await api.deploy(op, name: "nginx", cluster: cluster, source: #""image":"nginx:1.25","replicas":2"#)
        #expect(byReference.status == 202, "\(byReference.text)")
        #expect(try await services(api, op, app: byReference["id"]!.stringValue!)["nginx"]?["desired_replicas"]?.integerValue == 2)
        let badReference = try await api.deploy(op, name: "bad", cluster: cluster, source: #""image":"NOT A REF""#)
        #expect(badReference.status == 400)
        let twoSources = try await api.deploy(op, name: "two", cluster: cluster, source: #""image":"nginx","compose":"services: {}""#)
        #expect(twoSources.status == 400)
        let otherTenant = try await api.makeTenant("beta")
        let foreignImage = try await api.deploy(otherTenant.tokens["admin"]!, name: "x", cluster: cluster, source: #""image_id":"\#(imageID)""#)
        #expect(foreignImage.status == 422 || foreignImage.status == 404, "\(foreignImage.text)")
        // A new image for the same application: generation 2 with the new reference.
        let upgraded = try await api.call("POST", "/v1/apps/\(appID)/update", token: op, body: #"{"image":"library/tomcat:9","replicas":4}"#)
        #expect(upgraded.status == 202, "\(upgraded.text)")
        let after = try await services(api, op, app: appID)
        #expect(after["tomcat"]?["image"]?.stringValue == "library/tomcat:9")
        #expect(after["tomcat"]?["desired_replicas"]?.integerValue == 4)
    }

    @Test func deletingAClusterWithApplicationsIsRefusedNamingThemUnlessForced() async throws {
        let api = try await APIHarness.make("res_app_cluster_delete")
        let a = try await api.makeTenant("alpha")
        let admin = a.tokens["admin"]!
        let cluster = try #require(try await api.createCluster(admin, name: "prod")["id"]?.stringValue)
        _ = try await api.createNode(admin, cluster: cluster, name: "n1")
        let blog = try #require(try await api.deploy(admin, name: "blog", cluster: cluster, source: #""image":"wordpress:4""#)["id"]?.stringValue)
        let shop = try #require(try await api.deploy(admin, name: "shop", cluster: cluster, source: #""image":"nginx""#)["id"]?.stringValue)
        let refused = try await api.call("DELETE", "/v1/clusters/\(cluster)", token: admin)
        #expect(refused.status == 409, "\(refused.text)")
        #expect(refused.problemType == APIError.typeBase + "in-use")
        let detail = refused["detail"]?.stringValue ?? ""
        #expect(detail.contains("blog (\(blog))") && detail.contains("shop (\(shop))"), "\(detail)")
        #expect((try await api.call("GET", "/v1/clusters/\(cluster)", token: admin))["application_count"]?.integerValue == 2)
        let forced = try await api.call("DELETE", "/v1/clusters/\(cluster)?force=true", token: admin)
        #expect(forced.status == 204, "\(forced.text)")
        #expect((try await api.call("GET", "/v1/apps/\(blog)", token: admin)).status == 404)
        #expect((try await api.call("GET", "/v1/nodes", token: admin)).items.isEmpty)
        #expect((try await api.call("DELETE", "/v1/clusters/\(cluster)?force=maybe", token: admin)).status == 400)
        let audit = try await api.call("GET", "/v1/audit?action=clusters.delete", token: admin)
        #expect(audit.items.compactMap { $0["outcome"]?.integerValue }.sorted() == [204, 400, 409], "\(audit.text)")
    }

    @Test func deletingAnApplicationMarksItUntilItsContainersAreGone() async throws {
        let api = try await APIHarness.make("res_app_delete")
        let a = try await api.makeTenant("alpha")
        let op = a.tokens["operator"]!
        let cluster = try #require(try await api.createCluster(a.tokens["admin"]!, name: "prod")["id"]?.stringValue)
        let node = try #require(try await api.createNode(a.tokens["admin"]!, cluster: cluster, name: "n1")["id"]?.stringValue)
        let app = try #require(try await api.deploy(op, name: "web", cluster: cluster, source: #""image":"nginx","replicas":2"#)["id"]?.stringValue)
        let service = try #require(try await services(api, op, app: app)["nginx"]?["id"]?.stringValue)
        let quotas = api.plane.settings.quotaDefaults
        let containerID = Identifier.make(.container)
        _ = try await api.plane.store.transaction(.init(tenantID: a.id)) { tx in
            try tx.createContainer(.init(id: containerID, serviceID: service, nodeID: node, slot: 0, generation: 1), quotas: quotas)
        }
        _ = try await api.agentReport(cluster: cluster, [ContainerObservation(containerId: containerID, nodeId: node, state: .running, observedAt: Date())])
        let b = try await api.makeTenant("beta")
        #expect((try await api.call("DELETE", "/v1/apps/\(app)", token: b.tokens["admin"])).status == 404)
        let deleting = try await api.call("DELETE", "/v1/apps/\(app)", token: op)
        #expect(deleting.status == 202, "\(deleting.text)")
        #expect(deleting["status"]?.stringValue == "deleting")
        let container = try await api.call("GET", "/v1/containers/\(containerID)", token: op)
        #expect(container["desired_state"]?.stringValue == "removed")
        #expect(container["observed_state"]?.stringValue == "running", "only the agent says it stopped")
        #expect((try await api.call("POST", "/v1/services/\(service)/scale", token: op, body: #"{"replicas":3}"#)).status == 409)
        #expect((try await api.call("POST", "/v1/apps/\(app)/update", token: op, body: #"{"replicas":3}"#)).status == 409)
        let early = try await api.plane.store.transaction(.init(tenantID: a.id)) { try $0.finishApplicationDeletion(app) }
        #expect(!early, "its container is still there")
        // The agent confirms the removal, which deletes the row; the next pass removes the application.
        let confirmed = try await api.agentReport(cluster: cluster, [
            ContainerObservation(containerId: containerID, nodeId: node, state: .removed, observedAt: Date()),
        ])
        #expect(confirmed.deleted == 1)
        let finished = try await api.plane.store.transaction(.init(tenantID: a.id)) { try $0.finishApplicationDeletion(app) }
        #expect(finished)
        #expect((try await api.call("GET", "/v1/apps/\(app)", token: op)).status == 404)
        #expect((try await api.call("GET", "/v1/containers/\(containerID)", token: op)).status == 404)
        let types = try await api.call("GET", "/v1/events?after=0&type=app", token: op).items.compactMap { $0["type"]?.stringValue }
        #expect(types == ["app.created", "app.deleting", "app.deleted"])
    }
}
