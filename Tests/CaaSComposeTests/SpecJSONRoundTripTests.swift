import Foundation
import Testing
import CaaSCompose
import CaaSModel

/// The store keeps specs as snake_case JSON and the API returns them so: every field must survive.
@Suite struct SpecJSONRoundTripTests {
    @Test(arguments: ["wordpress-mysql.yml", "wordpress-cloud.yml", "restserver.yml", "autoscaling.yml"])
    func parsedSpecSurvivesSnakeCaseJSON(file: String) throws {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/" + (file as NSString).deletingPathExtension, withExtension: "yml"))
        let result = ComposeParser.parse(try String(contentsOf: url, encoding: .utf8))
        let spec = try #require(result.spec)
        #expect(try Self.roundTrip(spec) == spec)
    }

    @Test func everyAcronymFieldSurvivesSnakeCaseJSON() throws {
        var service = ServiceSpec(name: "web", image: "nginx")
        service.ports = [PortMapping(target: PortRange(80), published: PortRange(8080), hostIP: "127.0.0.1")]
        service.autoScaling = AutoScalingPolicy(maxCPU: 70, minCPU: 20, step: 2)
        service.placement.constraints = [
            PlacementConstraint(attribute: .nodeID, op: .equal, value: .exact("nod_1"), source: "node.id==nod_1"),
            PlacementConstraint(attribute: .nodeLabel("az"), op: .notEqual, value: .pattern("3"), source: "az!=/3/"),
        ]
        let spec = AppSpec(services: [service])
        #expect(try Self.roundTrip(spec) == spec)
    }

    static func roundTrip(_ spec: AppSpec) throws -> AppSpec {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(AppSpec.self, from: encoder.encode(spec))
    }
}
