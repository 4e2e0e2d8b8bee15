import CaaSCompose
import CaaSModel
import Testing

@Suite struct AppSpecValidationTests {
    @Test func everyParsedFixtureHasNoProblems() throws {
        for file in ["restserver.yml", "wordpress-cloud.yml", "wordpress-mysql.yml", "autoscaling.yml", "corpus/deploy-full.yml", "corpus/extensions-caas-prefix.yml"] {
            let (spec, _) = try parseValid(try fixtureText(file))
            #expect(spec.validationProblems().isEmpty, "\(file): \(spec.validationProblems())")
        }
    }

    @Test func editedSpecsAreChecked() {
        let spec = AppSpec(services: [
            ServiceSpec(name: "web", image: "nginx", ports: [PortMapping(target: PortRange(80, 81), published: PortRange(8080))],
                        volumes: [VolumeMount(kind: .volume, source: "missing", target: "/data")],
                        dependsOn: [ServiceDependency(service: "db")], replicas: -1),
            ServiceSpec(name: "db", image: "", links: [ServiceLink(target: "web")]),
            ServiceSpec(name: "Bad_Name", image: "x"),
        ])
        #expect(spec.validationProblems().map(\.description) == [
            "services[Bad_Name]: service name 'Bad_Name' must be lowercase: services are reached by name over DNS (try 'bad_name')",
            "services[web].replicas: replicas cannot be negative",
            "services[web].ports[0]: the published range has 1 ports but the target range has 2",
            "services[web].volumes[0]: volume 'missing' is not declared",
            "services[db].image: a service needs an image",
            "services[web]: dependency cycle: web -> db -> web",
        ])
    }
}
