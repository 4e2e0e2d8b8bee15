import CaaSCrypto
import CaaSModel
import CaaSPostgres
@testable import CaaSServer
import CaaSStore
import CaaSWorkersTestSupport
import Foundation
import Logging
import Synchronization
import Testing

/// Secrets reach the container and nobody else (issue 11, item 2): seals are bound to their
/// tenant, application and variable; no answer, stored response, event, audit entry or log line
/// holds a plain secret; the push opens them.
@Suite struct SecretBindingTests {
    /// The sealed value of `name` as stored in the application's spec.
    func storedSeal(_ api: APIHarness, app: String, name: String) async throws -> String {
        let spec = try await api.raw { try $0.query("SELECT spec::text AS s FROM applications WHERE id = $1", [app])[0].decode("s", as: String.self) }
        return try #require(try ResourceValuesProbe.environmentValue(spec, name: name), "\(name) in \(spec)")
    }

    @Test func aSealPastedFromAnotherApplicationTenantOrVariableIsRefusedNamingTheVariable() async throws {
        let api = try await APIHarness.make("secret_binding")
        let a = try await api.makeTenant("alpha"), b = try await api.makeTenant("beta")
        let op = a.tokens["operator"]!
        let cluster = try #require(try await api.createCluster(a.tokens["admin"]!, name: "prod")["id"]?.stringValue)
        let first = try await api.deploy(op, name: "first", cluster: cluster,
                                         source: #""image":"acme/api:1","environment":{"ADMIN_PASSWORD":"tiger-tiger","LEVEL":"info"}"#)
        #expect(first.status == 202, "\(first.text)")
        let firstID = try #require(first["id"]?.stringValue)
        let seal = try await storedSeal(api, app: firstID, name: "ADMIN_PASSWORD")
        #expect(seal.hasPrefix(ApplicationSecrets.environmentPrefix))

        // The same tenant's other application, from an image, from compose, through a variable.
        let image = try await api.deploy(op, name: "second", cluster: cluster,
                                         source: #""image":"acme/api:1","environment":{"ADMIN_PASSWORD":\#(jsonString(seal))}"#)
        #expect(image.status == 422, "\(image.text)")
        #expect(image.problemType == APIError.typeBase + "foreign-sealed-value")
        #expect(image.pointers == ["/environment/ADMIN_PASSWORD"])
        #expect(image.problemErrors.first?["detail"]?.stringValue?.contains("ADMIN_PASSWORD") == true)
        #expect(!image.text.contains(String(seal.dropFirst(ApplicationSecrets.environmentPrefix.count))), "the ciphertext is not echoed")
        let compose = "services:\n  api:\n    image: acme/api:1\n    environment:\n      - ADMIN_PASSWORD=\(seal)\n"
        let fromCompose = try await api.deploy(op, name: "third", cluster: cluster, source: #""compose":\#(jsonString(compose))"#)
        #expect(fromCompose.status == 422, "\(fromCompose.text)")
        #expect(fromCompose.pointers == ["/compose"])
        let viaVariable = "services:\n  api:\n    image: acme/api:1\n    environment:\n      ADMIN_PASSWORD: ${PW}\n"
        let fromVariable = try await api.deploy(op, name: "fourth", cluster: cluster,
                                                source: #""compose":\#(jsonString(viaVariable)),"variables":{"PW":\#(jsonString(seal))}"#)
        #expect(fromVariable.status == 422, "\(fromVariable.text)")
        #expect(fromVariable.pointers == ["/variables/PW"])
        // A template may not hold one either, given or copied into it.
        let template = try await api.createTemplate(op, name: "pasted", compose: compose)
        #expect(template.status == 422 && template.pointers == ["/compose"], "\(template.text)")
        let honest = try await api.createTemplate(op, name: "honest", compose: compose.replacingOccurrences(of: seal, with: "own-secret"))
        let honestID = try #require(honest["id"]?.stringValue, "\(honest.text)")
        let copied = try await api.createTemplate(op, name: "copied", compose: compose.replacingOccurrences(of: seal, with: "other-secret"))
        let copiedID = try #require(copied["id"]?.stringValue, "\(copied.text)")
        try await api.raw { connection in
            // Versions are immutable (a trigger): as the database's owner, for this test only.
            _ = try connection.execute("ALTER TABLE template_versions DISABLE TRIGGER USER")
            _ = try connection.execute("""
                UPDATE template_versions SET compose = (SELECT compose FROM template_versions WHERE template_id = $1) WHERE template_id = $2
                """, [honestID, copiedID])
            _ = try connection.execute("ALTER TABLE template_versions ENABLE TRIGGER USER")
        }
        #expect((try await api.deploy(op, name: "honest", cluster: cluster, source: #""template_id":"\#(honestID)""#)).status == 202)
        let fromCopied = try await api.deploy(op, name: "copied", cluster: cluster, source: #""template_id":"\#(copiedID)""#)
        #expect(fromCopied.status == 422 && fromCopied.pointers == ["/template_id"], "another template's seal: \(fromCopied.text)")
        // Another tenant's application.
        let betaCluster = try #require(try await api.createCluster(b.tokens["admin"]!, name: "prod")["id"]?.stringValue)
        let foreign = try await api.deploy(b.tokens["operator"]!, name: "first", cluster: betaCluster,
                                           source: #""image":"acme/api:1","environment":{"ADMIN_PASSWORD":\#(jsonString(seal))}"#)
        #expect(foreign.status == 422, "\(foreign.text)")
        // A made-up value in the sealed form, under a name that is not secret.
        let madeUp = try await api.deploy(op, name: "fifth", cluster: cluster,
                                          source: #""image":"acme/api:1","environment":{"LEVEL":"sealed:v1:AAAA"}"#)
        #expect(madeUp.status == 422, "\(madeUp.text)")
        #expect(madeUp.pointers == ["/environment/LEVEL"])
        // The first application's own seal, moved to another of its variables.
        let moved = try await api.call("POST", "/v1/apps/\(firstID)/update", token: op,
                                       body: #"{"image":"acme/api:1","environment":{"ROOT_PASSWORD":\#(jsonString(seal))}}"#)
        #expect(moved.status == 422, "\(moved.text)")
        #expect(moved.pointers == ["/environment/ROOT_PASSWORD"])
        // Its own seal in place: an image application's unchanged environment is accepted.
        let rescaled = try await api.call("POST", "/v1/apps/\(firstID)/update", token: op, body: #"{"replicas":2}"#)
        #expect(rescaled.status == 202, "\(rescaled.text)")
        #expect(try await storedSeal(api, app: firstID, name: "ADMIN_PASSWORD") == seal, "kept as it was")
        let count = try await api.raw { try $0.query("SELECT count(*)::int8 AS n FROM applications")[0].decode("n", as: Int.self) }
        #expect(count == 2, "nothing refused was stored (the first and the honest template's application)")
    }

    @Test func sealsCopiedInTheDatabaseToAnotherApplicationDoNotOpen() async throws {
        let api = try await APIHarness.make("secret_copied")
        let a = try await api.makeTenant("alpha")
        let op = a.tokens["operator"]!
        let cluster = try #require(try await api.createCluster(a.tokens["admin"]!, name: "prod")["id"]?.stringValue)
        let text = "services:\n  api:\n    image: acme/api:${TAG:-1}\n    environment:\n      DB_PASSWORD: ${DB_PASSWORD}\n"
        var ids: [String] = []
        for (name, password) in [("one", "first-password"), ("two", "second-password")] {
            let reply = try await api.deploy(op, name: name, cluster: cluster,
                                             source: #""compose":\#(jsonString(text)),"variables":{"DB_PASSWORD":"\#(password)"}"#)
            #expect(reply.status == 202, "\(reply.text)")
            ids.append(try #require(reply["id"]?.stringValue))
        }
        // Application one's sealed variables pasted over two's: two's next change cannot use them.
        let (one, two) = (ids[0], ids[1])
        try await api.raw { connection in
            _ = try connection.execute("UPDATE applications SET variables = (SELECT variables FROM applications WHERE id = $1) WHERE id = $2", [one, two])
        }
        let patched = try await api.call("PATCH", "/v1/apps/\(ids[1])", token: op, body: #"{"variables":{"TAG":"2"}}"#)
        #expect(patched.status == 422, "\(patched.text)")
        #expect(patched.pointers == ["/variables/DB_PASSWORD"])
        #expect(!patched.text.contains("first-password"))
        let fresh = try await api.call("POST", "/v1/apps/\(ids[1])/update", token: op, body: #"{"variables":{"DB_PASSWORD":"third-password"}}"#)
        #expect(fresh.status == 202, "giving the variables again works: \(fresh.text)")

        // Application one's sealed environment value, pushed as two's: refused; as one's: opened.
        let seal = try await storedSeal(api, app: ids[0], name: "DB_PASSWORD")
        func state(app: String) -> DesiredClusterState {
            DesiredClusterState(clusterId: cluster, generation: 1, nodes: [DesiredNodeState(nodeId: "nod_1", containers: [
                DesiredContainer(containerId: "ctr_1", tenantId: a.id, appId: app, appName: "x", serviceName: "api", slot: 0, generation: 1,
                                 image: "acme/api:1", environment: [EnvironmentVariable(name: "DB_PASSWORD", value: seal)]),
            ])])
        }
        let opened = try ApplicationSecrets.opened(state(app: ids[0]), key: api.plane.secretsKey)
        #expect(opened.nodes[0].containers[0].environment == [EnvironmentVariable(name: "DB_PASSWORD", value: "first-password")])
        #expect(throws: ApplicationSecrets.UnopenableSeal.self) { try ApplicationSecrets.opened(state(app: ids[1]), key: api.plane.secretsKey) }
        let otherTenant = try await api.makeTenant("beta")
        var foreign = state(app: ids[0])
        foreign.nodes[0].containers[0].tenantId = otherTenant.id
        #expect(throws: ApplicationSecrets.UnopenableSeal.self) { try ApplicationSecrets.opened(foreign, key: api.plane.secretsKey) }
    }

    @Test func noAnswerToAnyRoleNorAnyStoredResponseEventAuditEntryOrLogHoldsAPlainSecret() async throws {
        let lines = LogLines()
        let base = try await APIHarness.make("secret_exposure")
        var logger = Logger(label: "caas.test.capture") { _ in CapturingLogHandler(lines: lines) }
        logger.logLevel = .trace
        let plane = ControlPlane(store: base.plane.store, settings: base.plane.settings, resources: ResourceSettings(secretsKey: base.plane.secretsKey),
                                 logger: logger)
        let api = APIHarness(plane: plane, pool: base.pool, url: base.url, systemToken: base.systemToken, requestLogger: logger)
        let a = try await api.makeTenant("alpha")
        let admin = a.tokens["admin"]!, op = a.tokens["operator"]!
        let cluster = try #require(try await api.createCluster(admin, name: "prod")["id"]?.stringValue)
        let secrets = ["literal-map-secret", "literal-list-secret", "default-secret", "variable-secret", "image-env-secret"]
        let text = """
            services:
              db:
                image: mysql:5.7
                environment:
                  MYSQL_ROOT_PASSWORD: literal-map-secret
              wordpress:
                image: wordpress:4
                environment:
                  - WORDPRESS_DB_PASSWORD=literal-list-secret
                  - WORDPRESS_AUTH_KEY=${AUTH_KEY:-default-secret}
                  - DATABASE_URL=mysql://blog:${DB_PASSWORD}@db/blog
            """
        let template = try await api.createTemplate(op, name: "blog", compose: text)
        #expect(template.status == 201, "\(template.text)")
        let templateID = try #require(template["id"]?.stringValue)
        #expect((try await api.call("POST", "/v1/templates/\(templateID)/versions", token: op,
                                    body: #"{"compose":\#(jsonString(text + "\n# v2\n"))}"#)).status == 201)
        let body = #"{"name":"blog","cluster_id":"\#(cluster)","compose":\#(jsonString(text)),"variables":{"DB_PASSWORD":"variable-secret"}}"#
        let created = try await api.call("POST", "/v1/apps", token: op, body: body, headers: ["Idempotency-Key": "blog-1"])
        #expect(created.status == 202, "\(created.text)")
        let replayed = try await api.call("POST", "/v1/apps", token: op, body: body, headers: ["Idempotency-Key": "blog-1"])
        #expect(replayed.status == 202 && replayed.text == created.text, "a replay answers the stored response")
        let appID = try #require(created["id"]?.stringValue)
        let fromTemplate = try await api.deploy(op, name: "blog2", cluster: cluster,
                                                source: #""template_id":"\#(templateID)","variables":{"DB_PASSWORD":"variable-secret"}"#)
        #expect(fromTemplate.status == 202, "\(fromTemplate.text)")
        let fromImage = try await api.call("POST", "/v1/apps", token: op,
                                           body: #"{"name":"tomcat","cluster_id":"\#(cluster)","image":"tomcat:9","environment":{"ADMIN_PASSWORD":"image-env-secret"}}"#,
                                           headers: ["Idempotency-Key": "img-1"])
        #expect(fromImage.status == 202, "\(fromImage.text)")
        let patched = try await api.call("PATCH", "/v1/apps/\(appID)", token: op, body: #"{"variables":{"DB_PASSWORD":"variable-secret"}}"#)
        #expect(patched.status == 200 || patched.status == 202, "\(patched.text)")

        var answers: [(String, Reply)] = [("create", created), ("replay", replayed), ("template", fromTemplate), ("image", fromImage), ("patch", patched)]
        for role in ["admin", "operator", "viewer"] {
            let token = a.tokens[role]!
            for target in ["/v1/apps", "/v1/apps/\(appID)", "/v1/apps/\(appID)/services", "/v1/apps/\(appID)/deployments",
                           "/v1/apps/\(fromImage["id"]!.stringValue!)", "/v1/templates/\(templateID)/versions",
                           "/v1/templates/\(templateID)/versions/1", "/v1/templates/\(templateID)/versions/2",
                           "/v1/templates/\(templateID)/diff?from=1&to=2&context=100", "/v1/events?after=0", "/v1/containers", "/v1/audit"] {
                let reply = try await api.call("GET", target, token: token)
                #expect(reply.status == 200 || (target == "/v1/audit" && role != "admin"), "\(role) \(target): \(reply.text)")
                answers.append(("\(role) GET \(target)", reply))
            }
            let validated = try await api.call("POST", "/v1/templates/validate", token: token,
                                               body: #"{"compose":\#(jsonString(text)),"variables":{"DB_PASSWORD":"variable-secret"}}"#)
            #expect(validated.status == 200 && validated["valid"] == .bool(true), "\(validated.text)")
            answers.append(("\(role) validate", validated))
        }
        let app = try await api.call("GET", "/v1/apps/\(appID)", token: a.tokens["viewer"])
        let shown = try #require(app["compose"]?.stringValue)
        #expect(shown.contains("MYSQL_ROOT_PASSWORD: \"***\""), "\(shown)")
        #expect(shown.contains("- WORDPRESS_DB_PASSWORD=***"), "\(shown)")
        #expect(shown.contains("- DATABASE_URL=mysql://blog:${DB_PASSWORD}@db/blog"), "references are not secrets: \(shown)")
        let version = try await api.call("GET", "/v1/templates/\(templateID)/versions/1", token: a.tokens["viewer"])
        let defaults = version["variables"].flatMap { value -> [JSONValue]? in if case .array(let items) = value { items } else { nil } } ?? []
        #expect(defaults.first { $0["name"]?.stringValue == "AUTH_KEY" }?["default"]?.stringValue == "***", "\(version.text)")
        let shownText = try #require(version["compose"]?.stringValue)
        #expect(version["digest"]?.stringValue == "sha256:" + SHA256.hex(Array(shownText.utf8)),
                "the digest is of the text shown, not of one a guess could be tested against")

        for (what, reply) in answers {
            for secret in secrets {
                #expect(!reply.text.contains(secret), "\(what) shows \(secret): \(reply.text)")
            }
        }
        let stored = try await api.raw { connection -> String in
            let responses = try connection.query("SELECT coalesce(string_agg(convert_from(response_body, 'UTF8'), ' '), '') AS s FROM idempotency_keys")
            let events = try connection.query("SELECT coalesce(string_agg(e::text, ' '), '') AS s FROM events e")
            let audit = try connection.query("SELECT coalesce(string_agg(a::text, ' '), '') AS s FROM audit_log a")
            return try [responses, events, audit].map { try $0[0].decode("s", as: String.self) }.joined(separator: "\n")
        }
        #expect(stored.contains("blog"), "responses, events and audit entries were stored")
        // At rest: the applications' compose text holds literal secrets sealed (only an
        // interpolation's default, `${AUTH_KEY:-default-secret}`, stays as written), and a re-parse
        // of it (the PATCH above) gives the values given.
        let composeAtRest = try await api.raw { connection -> String in
            let apps = try connection.query("SELECT string_agg(compose, ' ') AS s FROM applications")[0].decode("s", as: String.self)
            let versions = try connection.query("SELECT string_agg(compose, ' ') AS s FROM template_versions")[0].decode("s", as: String.self)
            return apps + versions
        }
        for secret in ["literal-map-secret", "literal-list-secret"] {
            #expect(!composeAtRest.contains(secret), "stored compose: \(secret)")
        }
        let fromTemplateID = try #require(fromTemplate["id"]?.stringValue)
        let templated = try ApplicationSecrets(key: api.plane.secretsKey, tenantID: a.id, applicationID: fromTemplateID)
        #expect(try templated.open(try await storedSeal(api, app: fromTemplateID, name: "MYSQL_ROOT_PASSWORD"), name: "MYSQL_ROOT_PASSWORD")
                == "literal-map-secret", "a deployment from the template gets the template's value, sealed as the application's")
        let bound = try ApplicationSecrets(key: api.plane.secretsKey, tenantID: a.id, applicationID: appID)
        #expect(try bound.open(try await storedSeal(api, app: appID, name: "MYSQL_ROOT_PASSWORD"), name: "MYSQL_ROOT_PASSWORD") == "literal-map-secret")
        #expect(try bound.open(try await storedSeal(api, app: appID, name: "WORDPRESS_DB_PASSWORD"), name: "WORDPRESS_DB_PASSWORD") == "literal-list-secret")
        for secret in secrets {
            #expect(!stored.contains(secret), "stored: \(secret)")
        }
        #expect((try await api.call("GET", "/v1/apps", token: "caas_not-a-token")).status == 401)
        let logged = lines.all.joined(separator: "\n")
        #expect(logged.contains("authentication failed"), "the control plane's log is the one read: \(logged)")
        for secret in secrets {
            #expect(!logged.contains(secret), "logged: \(secret)")
        }
    }

    @Test func thePushAndTheAgentsResyncCarryThePlainValueAndASealThatDoesNotOpenStopsThePush() async throws {
        let h = try await WorkersHarness.make("secret_push", nodes: [("n1", "{}")])
        defer { Task { await h.shutdown() } }
        let lines = LogLines()
        var logger = Logger(label: "caas.test.workers") { _ in CapturingLogHandler(lines: lines) }
        logger.logLevel = .trace
        h.startReplica(logger: logger)
        let compose = "services:\n  api:\n    image: busybox:1\n    environment:\n      - DB_PASSWORD=plain-for-the-engine\n      - LEVEL=info\n"
        let (app, services) = try await h.deploy("api", compose: compose)
        #expect(try await h.eventually { try await h.running(app: app).count == 1 })
        let pushed = try #require(await h.agent.pushes.last?.nodes.flatMap(\.containers).first { $0.appId == app })
        #expect(pushed.environment.first { $0.name == "DB_PASSWORD" }?.value == "plain-for-the-engine")
        #expect(pushed.environment.first { $0.name == "LEVEL" }?.value == "info")
        let resync = try await h.endpoints.desiredState(credentials: AgentCredentials(bearer: h.agent.secret))
        let state = try AgentWire.decoder().decode(DesiredClusterState.self, from: Data(resync))
        #expect(state.nodes.flatMap(\.containers).first?.environment.first { $0.name == "DB_PASSWORD" }?.value == "plain-for-the-engine")

        // A seal altered in the database: nothing is sent.
        try await h.api.raw { connection in
            _ = try connection.execute("UPDATE services SET spec = replace(spec::text, 'sealed:v1:', 'sealed:v1:AA')::jsonb WHERE application_id = $1", [app])
        }
        await #expect(throws: ApplicationSecrets.UnopenableSeal.self) {
            _ = try await h.endpoints.desiredState(credentials: AgentCredentials(bearer: h.agent.secret))
        }
        let pushes = await h.agent.pushes.count
        try await h.scale(try #require(services["api"]), 2)
        #expect(try await h.eventually { lines.all.contains { $0.contains("push not sent: a sealed value does not open") } },
                "the pusher says why: \(lines.all)")
        #expect(await h.agent.pushes.count == pushes, "nothing was sent")
        #expect(lines.all.contains { $0.contains("DB_PASSWORD") && $0.contains(app) }, "the log names the variable and its application")
        #expect(!lines.all.contains { $0.contains("plain-for-the-engine") }, "no log line holds the secret")
    }
}

/// Log lines a control plane writes, message and metadata, for tests that read them.
final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

struct CapturingLogHandler: LogHandler {
    let lines: LogLines
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        lines.append("\(level) \(message) \(self.metadata.merging(metadata ?? [:]) { $1 })")
    }
}
