import CaaSHTTP
@testable import CaaSServer
import Foundation
import Logging
import Synchronization
import Testing

@Suite struct HealthRoutesTests {
    @Test func aFloodOfReadinessChecksCostsOneCheckAndShowsNoErrorText() async throws {
        let calls = Atomic<Int>(0)
        let health = HealthRoutes(cacheFor: .seconds(30)) {
            calls.add(1, ordering: .relaxed)
            try? await Task.sleep(for: .milliseconds(50))
            return "the database does not answer"
        }
        var router = Router()
        health.register(on: &router)
        let responder = router
        let statuses = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for _ in 0..<200 {
                group.addTask {
                    let request = HTTPRequest(method: .get, target: "/readyz", headers: HTTPHeaders([]), body: HTTPRequestBody(bytes: []),
                                              connection: HTTPConnectionInfo(remoteAddress: "127.0.0.1:1"))
                    let response = try await responder.respond(to: request, context: RequestContext(logger: Logger(label: "test")))
                    return (response.status.code, String(decoding: try await response.collectBody(), as: UTF8.self))
                }
            }
            var all: [(Int, String)] = []
            for try await answer in group { all.append(answer) }
            return all
        }
        #expect(statuses.count == 200 && statuses.allSatisfy { $0.0 == 503 && $0.1 == "not ready: the database does not answer\n" })
        #expect(calls.load(ordering: .relaxed) == 1, "one check for 200 callers")
    }
}
