@testable import CaaSClient
import Testing

@Suite struct ProblemTests {
    static let composeProblem = Array("""
        {"type":"https://caas.dev/problems/invalid-compose","title":"The compose text is not valid","status":422,
         "detail":"2 errors","errors":[
           {"pointer":"/compose","path":"services.web.ports[1]","line":12,"column":7,"detail":"invalid port","severity":"error"},
           {"pointer":"/compose","path":"services.db","line":20,"column":3,"detail":"no image"}]}
        """.utf8)

    @Test func problemDocumentsAreReadWithEveryFieldError() {
        let problem = ProblemDetails(status: 422, body: Self.composeProblem, requestID: "req_1")
        #expect(problem.title == "The compose text is not valid")
        #expect(problem.slug == "invalid-compose")
        #expect(problem.errors.count == 2)
        #expect(problem.errors[0] == .init(pointer: "/compose", path: "services.web.ports[1]", line: 12, column: 7, detail: "invalid port"))
    }

    @Test func composeErrorsRenderAsFileLineColumnPath() {
        let problem = ProblemDetails(status: 422, body: Self.composeProblem)
        let text = ErrorPresenter(composeFile: "compose.yml").render(.problem(problem))
        #expect(text == """
            error: The compose text is not valid: 2 errors (422)
              compose.yml:12:7 services.web.ports[1]: invalid port
              compose.yml:20:3 services.db: no image

            """)
    }

    @Test func pointerErrorsAndExtensionsAreShown() {
        let body = Array(#"{"title":"Quota exceeded","status":409,"detail":"the tenant's applications quota is 2 and 2 are in use","quota":"applications","limit":2,"errors":[{"pointer":"/name","detail":"must not be empty"}]}"#.utf8)
        let text = ErrorPresenter().render(.problem(ProblemDetails(status: 409, body: body)))
        #expect(text.contains("error: Quota exceeded: the tenant's applications quota is 2 and 2 are in use (409)"))
        #expect(text.contains("  /name: must not be empty"))
        #expect(text.contains("  quota: applications"))
        #expect(text.contains("  limit: 2"))
    }

    @Test func aNonJSONErrorStillSaysSomething() {
        let problem = ProblemDetails(status: 502, body: Array("<html>bad gateway</html>".utf8), requestID: "r-9")
        #expect(problem.title == "Bad gateway")
        #expect(problem.detail == "<html>bad gateway</html>")
        #expect(ErrorPresenter().render(.problem(problem)).contains("request id: r-9"))
    }

    @Test func authenticationAndConnectionFailuresComeWithAHint() {
        let unauthorized = ErrorPresenter().render(.problem(ProblemDetails(title: "Authentication required", status: 401, detail: "invalid token")))
        #expect(unauthorized.contains("hint: the token is missing, wrong, expired or revoked"))
        let refused = ErrorPresenter().render(.unreachable(server: "http://127.0.0.1:1", detail: "connection refused"))
        #expect(refused.hasPrefix("error: cannot reach the caas server at http://127.0.0.1:1: connection refused"))
        let tls = ErrorPresenter().render(.tls(server: "https://x", detail: "certificate verify failed"))
        #expect(tls.contains("--ca-file"))
    }

    @Test(arguments: [
        (401, CaaSExitStatus.unauthorized), (403, .unauthorized), (404, .notFound), (409, .conflict), (412, .conflict),
        (400, .failure), (422, .failure), (429, .failure), (500, .failure), (503, .failure),
    ])
    func statusesMapToDocumentedExitCodes(status: Int, expected: CaaSExitStatus) {
        #expect(CaaSExitStatus.of(.problem(ProblemDetails(title: "x", status: status))) == expected)
    }

    @Test func clientFailuresMapToExitCodes() {
        #expect(CaaSExitStatus.of(.notFound(kind: "cluster", name: "x")) == .notFound)
        #expect(CaaSExitStatus.of(.configuration("no server")) == .usage)
        #expect(CaaSExitStatus.of(.unreachable(server: "s", detail: "d")) == .failure)
        #expect(CaaSExitStatus.of(.tls(server: "s", detail: "d")) == .failure)
        #expect(CaaSExitStatus.allCases.map(\.rawValue) == [0, 1, 2, 3, 4, 5])
    }

    @Test func validationResultsReadBothAnswersAndProblems() {
        let answer: JSON = ["valid": false, "errors": [["path": "services.web.image", "line": 3, "column": 5, "detail": "image is required"]],
                            "warnings": [["path": "services.web.foo", "line": 4, "column": 5, "detail": "unknown key foo"]], "spec": nil]
        let result = ValidationResult(answer)
        #expect(!result.valid && result.errors.count == 1 && result.warnings.count == 1)
        #expect(ErrorPresenter.position(result.errors[0], file: "c.yml") == "c.yml:3:5 services.web.image: image is required")
        let fromProblem = ValidationResult(ProblemDetails(status: 422, body: Self.composeProblem))
        #expect(!fromProblem.valid && fromProblem.errors.count == 2)
    }
}
