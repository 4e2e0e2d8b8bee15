import Foundation
import Logging
import Testing
@testable import CaaSHTTP

private func context(_ logs: LogCapture = LogCapture()) -> RequestContext { RequestContext(logger: logs.logger) }

private func request(_ method: HTTPMethod, _ target: String, headers: HTTPHeaders = [:], body: String = "") -> HTTPRequest {
    HTTPRequest(method: method, target: target, headers: headers, body: .init(string: body))
}

private func problem(_ response: HTTPResponse) throws -> Problem {
    try JSONDecoder().decode(Problem.self, from: Data(response.body.bytes ?? []))
}

private func makeRouter() -> Router {
    var router = Router()
    router.add(middleware: RequestIDMiddleware())
    router.add(middleware: RecoveryMiddleware())
    router.get("/v1/apps") { _, _ in .text("list") }
    router.post("/v1/apps") { _, _ in .text("create", status: .accepted) }
    router.get("/v1/apps/{id}") { _, context in .text("app \(try context.parameters.require("id"))") }
    router.delete("/v1/apps/{id}") { _, _ in HTTPResponse(status: .noContent) }
    router.get("/v1/apps/new") { _, _ in .text("literal new") }
    router.get("/v1/apps/{id}/services/{service}") { _, context in
        .text("\(context.parameters["id"]!)/\(context.parameters["service"]!) route=\(context.route!)")
    }
    router.get("/v1/apps/new/x") { _, _ in .text("new x") }
    router.get("/") { _, _ in .text("root") }
    return router
}

@Suite("Router and middleware without a socket")
struct RouterTests {
    let router = makeRouter()

    func text(_ method: HTTPMethod, _ target: String) async throws -> (Int, String) {
        let response = try await router.respond(to: request(method, target), context: context())
        return (response.status.code, String(decoding: try await response.collectBody(), as: UTF8.self))
    }

    @Test("literal segments beat parameters, with backtracking into parameters")
    func literalBeatsParameter() async throws {
        #expect(try await text(.get, "/v1/apps/new") == (200, "literal new"))
        #expect(try await text(.get, "/v1/apps/app_1") == (200, "app app_1"))
        #expect(try await text(.get, "/v1/apps/new/x") == (200, "new x"))
        // "new" is literal, but /new/services/{s} only exists under the parameter.
        #expect(try await text(.get, "/v1/apps/new/services/web") == (200, "new/web route=/v1/apps/{id}/services/{service}"))
        #expect(try await text(.get, "/") == (200, "root"))
    }

    @Test("path parameters are percent-decoded; query parameters too, with + as space")
    func decoding() async throws {
        #expect(try await text(.get, "/v1/apps/a%20b") == (200, "app a b"))
        let query = QueryParameters("limit=10&name=a+b%21&flag&x=1&x=2")
        #expect(query["limit"] == "10")
        #expect(query["name"] == "a b!")
        #expect(query["flag"] == "")
        #expect(query.values(for: "x") == ["1", "2"])
        #expect(try query.get("limit", as: Int.self) == 10)
        #expect(throws: HTTPError.self) { try query.get("name", as: Int.self) }
        #expect(throws: HTTPError.self) { try query.require("cursor") }
        let split = HTTPRequest(method: .get, target: "/v1/apps?limit=2")
        #expect(split.path == "/v1/apps" && split.queryParameters["limit"] == "2")
        let absolute = HTTPRequest(method: .get, target: "http://host:8080/v1/x?y=1")
        #expect(absolute.path == "/v1/x" && absolute.query == "y=1")
    }

    @Test("unknown path is 404 problem+json; known path with other method is 405 with Allow")
    func notFoundAndMethodNotAllowed() async throws {
        let missing = try await router.respond(to: request(.get, "/v2/nothing"), context: context())
        #expect(missing.status == .notFound)
        #expect(missing.headers["Content-Type"] == "application/problem+json")
        #expect(try problem(missing).status == 404)

        let wrong = try await router.respond(to: request(.put, "/v1/apps/app_1"), context: context())
        #expect(wrong.status == .methodNotAllowed)
        #expect(wrong.headers["Allow"] == "DELETE, GET, HEAD, OPTIONS")
        #expect(try problem(wrong).title == "Method Not Allowed")
        // Trailing slashes and empty segments are different paths.
        #expect(try await text(.get, "/v1/apps/").0 == 404)
    }

    @Test("HEAD runs the GET handler; OPTIONS answers 204 with Allow")
    func headAndOptions() async throws {
        #expect(try await text(.head, "/v1/apps") == (200, "list"))
        let options = try await router.respond(to: request(.options, "/v1/apps"), context: context())
        #expect(options.status == .noContent)
        #expect(options.headers["Allow"] == "GET, HEAD, OPTIONS, POST")
    }

    @Test("the route table is enumerable in registration order")
    func routeTable() {
        #expect(router.routes.map(\.description) == [
            "GET /v1/apps", "POST /v1/apps", "GET /v1/apps/{id}", "DELETE /v1/apps/{id}", "GET /v1/apps/new",
            "GET /v1/apps/{id}/services/{service}", "GET /v1/apps/new/x", "GET /",
        ])
    }

    @Test("request id: a well-formed X-Request-Id is echoed, anything else is replaced")
    func requestID() async throws {
        let echoed = try await router.respond(to: request(.get, "/v1/apps", headers: ["X-Request-Id": "abc-123"]), context: context())
        #expect(echoed.headers["X-Request-Id"] == "abc-123")
        let replaced = try await router.respond(to: request(.get, "/v1/apps", headers: ["X-Request-Id": "bad id\u{7}"]), context: context())
        let generated = try #require(replaced.headers["X-Request-Id"])
        #expect(generated.count == 32 && generated != "bad id\u{7}")
        let fresh = try await router.respond(to: request(.get, "/v1/apps"), context: context())
        #expect(fresh.headers["X-Request-Id"]?.count == 32)
        #expect(fresh.headers["X-Request-Id"] != generated)
        let missing = try await router.respond(to: request(.get, "/nope"), context: context())
        #expect(missing.headers["X-Request-Id"]?.count == 32)
    }

    @Test("recovery: HTTPResponseError becomes its problem; other errors a bare 500, logged with the request id")
    func recovery() async throws {
        struct Secret: Error { let password = "hunter2" }
        struct Conflict: HTTPResponseError { var status: HTTPStatus { .conflict }; var headers: HTTPHeaders { ["Retry-After": "3"] } }
        var router = Router()
        router.add(middleware: RequestIDMiddleware())
        router.add(middleware: RecoveryMiddleware())
        router.get("/secret") { _, _ in throw Secret() }
        router.get("/conflict") { _, _ in throw Conflict() }
        router.get("/validation") { _, _ in
            throw HTTPError(.unprocessableContent, detail: "bad", errors: [.init(path: "compose.yml", line: 3, column: 7, detail: "unknown key")])
        }
        let logs = LogCapture()
        let secret = try await router.respond(to: request(.get, "/secret", headers: ["X-Request-Id": "r1"]), context: context(logs))
        #expect(secret.status == .internalServerError)
        let body = String(decoding: secret.body.bytes ?? [], as: UTF8.self)
        #expect(!body.contains("hunter2") && !body.contains("Secret"))
        #expect(try problem(secret).instance == "urn:request:r1")
        let logged = try #require(logs.all.first { $0.message == "unhandled error" })
        #expect(logged.metadata["request.id"] == "r1")
        #expect(logged.metadata["error"]?.contains("hunter2") == true)

        let conflict = try await router.respond(to: request(.get, "/conflict"), context: context())
        #expect(conflict.status == .conflict && conflict.headers["Retry-After"] == "3")
        let validation = try problem(try await router.respond(to: request(.get, "/validation"), context: context()))
        #expect(validation.errors == [.init(path: "compose.yml", line: 3, column: 7, detail: "unknown key")])
        let json = String(decoding: Problem(status: .notFound, detail: "x").encoded(), as: UTF8.self)
        #expect(json == #"{"detail":"x","status":404,"title":"Not Found","type":"about:blank"}"#)
    }

    @Test("access log: method, path, route, status, duration and request id as metadata")
    func accessLog() async throws {
        var router = Router()
        router.add(middleware: RequestIDMiddleware())
        router.add(middleware: AccessLogMiddleware())
        router.add(middleware: RecoveryMiddleware())
        router.get("/v1/apps/{id}") { _, _ in .text("ok") }
        let logs = LogCapture()
        _ = try await router.respond(to: request(.get, "/v1/apps/a1", headers: ["X-Request-Id": "req-9"]), context: context(logs))
        _ = try await router.respond(to: request(.get, "/missing"), context: context(logs))
        let lines = logs.all.filter { $0.message == "request" }
        #expect(lines.count == 2)
        #expect(lines[0].metadata["http.method"] == "GET")
        #expect(lines[0].metadata["http.path"] == "/v1/apps/a1")
        #expect(lines[0].metadata["http.route"] == "/v1/apps/{id}")
        #expect(lines[0].metadata["http.status"] == "200")
        #expect(lines[0].metadata["request.id"] == "req-9")
        #expect(lines[0].metadata["duration_ms"] != nil)
        #expect(lines[1].metadata["http.status"] == "404")
    }

    @Test("middleware can short-circuit and use typed storage")
    func shortCircuitAndStorage() async throws {
        enum PrincipalKey: RequestStorageKey { typealias Value = String }
        struct Auth: HTTPMiddleware {
            func handle(_ request: HTTPRequest, context: RequestContext,
                        next: (HTTPRequest, RequestContext) async throws -> HTTPResponse) async throws -> HTTPResponse {
                guard let token = request.headers["Authorization"] else { return HTTPResponse(status: .unauthorized) }
                var context = context
                context.storage[PrincipalKey.self] = "user:\(token)"
                return try await next(request, context)
            }
        }
        var router = Router()
        router.add(middleware: Auth())
        router.get("/me") { _, context in .text(context.storage[PrincipalKey.self] ?? "nobody") }
        let denied = try await router.respond(to: request(.get, "/me"), context: context())
        #expect(denied.status == .unauthorized)
        let allowed = try await router.respond(to: request(.get, "/me", headers: ["Authorization": "t1"]), context: context())
        #expect(String(decoding: allowed.body.bytes!, as: UTF8.self) == "user:t1")
    }

    struct CreateApp: Codable, Equatable {
        struct Service: Codable, Equatable { var imageName: String; var replicas: Int }
        var appName: String
        var createdAt: Date?
        var services: [Service]
    }

    @Test("JSON decode: 415 without JSON type, 400 malformed, 422 naming the field in snake_case")
    func jsonDecode() async throws {
        let json: HTTPHeaders = ["Content-Type": "application/json; charset=utf-8"]
        let good = request(.post, "/", headers: json, body: #"{"app_name":"web","created_at":"2024-01-02T03:04:05Z","services":[{"image_name":"nginx","replicas":2}]}"#)
        let decoded = try await good.decode(CreateApp.self)
        #expect(decoded.appName == "web" && decoded.services[0].imageName == "nginx")
        #expect(decoded.createdAt == Date(timeIntervalSince1970: 1_704_164_645))

        func failure(_ headers: HTTPHeaders, _ body: String) async -> HTTPError? {
            do {
                _ = try await request(.post, "/", headers: headers, body: body).decode(CreateApp.self)
                return nil
            } catch {
                return error as? HTTPError
            }
        }
        #expect(await failure(["Content-Type": "text/plain"], "{}")?.status == .unsupportedMediaType)
        #expect(await failure([:], "{}")?.status == .unsupportedMediaType)
        #expect(await failure(json, "")?.status == .badRequest)
        #expect(await failure(json, "{nope")?.status == .badRequest)
        let missing = await failure(json, #"{"services":[]}"#)
        #expect(missing?.status == .unprocessableContent)
        #expect(missing?.errors?.first?.pointer == "/app_name")
        let wrongType = await failure(json, #"{"app_name":"w","services":[{"image_name":"x","replicas":"two"}]}"#)
        #expect(wrongType?.status == .unprocessableContent)
        #expect(wrongType?.errors?.first?.pointer == "/services/0/replicas")
        #expect(wrongType?.errors?.first?.detail == "must be an integer")
        let tooBig = request(.post, "/", headers: json, body: String(repeating: " ", count: 100) + "{}")
        await #expect(throws: HTTPError(.contentTooLarge, detail: "The request body is larger than 10 bytes.")) {
            _ = try await tooBig.decode(CreateApp.self, maxBytes: 10)
        }
    }

    @Test("JSON encode: snake_case keys, ISO-8601 dates, application/json")
    func jsonEncode() throws {
        let value = CreateApp(appName: "web", createdAt: Date(timeIntervalSince1970: 0), services: [.init(imageName: "n", replicas: 1)])
        let response = try HTTPResponse.json(value, status: .created)
        #expect(response.status == .created)
        #expect(response.headers["Content-Type"] == "application/json")
        #expect(String(decoding: response.body.bytes!, as: UTF8.self)
            == #"{"app_name":"web","created_at":"1970-01-01T00:00:00Z","services":[{"image_name":"n","replicas":1}]}"#)
        #expect(JSONCoding.snakeCase("observedGeneration") == "observed_generation")
        #expect(JSONCoding.snakeCase("imageURL") == "image_url")
        #expect(JSONCoding.snakeCase("urlPath") == "url_path")
    }
}
