import Foundation
import CaaSCompose
import CaaSModel
import Testing

@Suite struct ParserBehaviourTests {
    @Test func allErrorsAreReportedAtOnceSortedByPosition() {
        let text = """
        services:
          web:
            image: nginx
            ports: ["99999"]
            depends_on: [ghost]
          db:
            image: postgres
            restart: sometimes
            volumes: ["nope:/data"]
        """
        let result = ComposeParser.parse(text)
        #expect(result.spec == nil)
        #expect(result.errors.map(\.line) == [4, 5, 8, 9])
        #expect(result.errors.map(\.path) == ["services.web.ports[0]", "services.web.depends_on[0]", "services.db.restart", "services.db.volumes[0]"])
        #expect(result.errors.allSatisfy { $0.column != nil })
    }

    @Test func columnsPointAtTheOffendingValue() {
        let result = ComposeParser.parse("services:\n  web:\n    image: nginx\n    scale: many\n")
        #expect(result.errors.first?.line == 4)
        #expect(result.errors.first?.column == 12)
        #expect(result.errors.first?.description == "4:12 services.web.scale: expected a replica count, found 'many'")
    }

    @Test func warningsAloneKeepTheSpec() throws {
        let (spec, result) = try parseValid("services:\n  web:\n    image: nginx\n    hostname: web1\n")
        #expect(spec.services.count == 1)
        #expect(result.warnings.map(\.message) == ["'hostname' is not supported by caas; ignored"])
    }

    @Test(arguments: ["2", "2.4", "3", "3.8", "\"3.9\"", "'2.0'"])
    func supportedVersionsAreAccepted(version: String) throws {
        let (spec, result) = try parseValid("version: \(version)\nservices:\n  web:\n    image: nginx\n")
        #expect(spec.services.count == 1)
        #expect(result.diagnostics.isEmpty)
    }

    @Test(arguments: ["4", "1.0", "latest", "[3]"])
    func otherVersionsAreErrors(version: String) {
        let result = ComposeParser.parse("version: \(version)\nservices:\n  web:\n    image: nginx\n")
        #expect(result.spec == nil)
        #expect(result.errors.first?.path == "version")
    }

    @Test func projectNameMustBeLowercase() {
        #expect(ComposeParser.parse("name: MyApp\nservices:\n  web:\n    image: nginx\n").errors.first?.message.contains("is not a project name") == true)
    }

    @Test func xExtensionsAreIgnoredEverywhere() throws {
        let (spec, result) = try parseValid("""
        x-top: {anything: [1, 2]}
        services:
          web:
            image: nginx
            x-service-note: whatever
            deploy:
              x-deploy: 1
              replicas: 2
        volumes:
          x-not-a-volume: {}
        """)
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics)")
        #expect(spec.volumes.isEmpty)
        #expect(spec.services.first?.replicas == 2)
    }

    @Test func extensionLabelsStayInLabelsAsWritten() throws {
        let (spec, _) = try parseValid("services:\n  web:\n    image: nginx\n    labels:\n      aliyun.scale: '3'\n      caas.global: 'false'\n      team: web\n")
        #expect(spec.services.first?.labels == ["aliyun.scale": "3", "caas.global": "false", "team": "web"])
        #expect(spec.services.first?.replicas == 3)
        #expect(spec.services.first?.mode == .replicated)
    }

    @Test func aliyunAndCaasPrefixesMustAgree() {
        let result = ComposeParser.parse("services:\n  web:\n    image: nginx\n    labels:\n      aliyun.scale: '3'\n      caas.scale: '4'\n")
        #expect(result.errors.map(\.line) == [6])
        #expect(result.errors.first?.message.contains("conflicts with the label given at line 5") == true)
    }

    @Test func agreeingReplicaSourcesAreFine() throws {
        let (spec, _) = try parseValid("version: '3'\nservices:\n  web:\n    image: nginx\n    deploy:\n      replicas: 3\n    labels:\n      aliyun.scale: '3'\n")
        #expect(spec.services.first?.replicas == 3)
    }

    @Test func globalServiceWarnsThatReplicasAreIgnored() throws {
        let (spec, result) = try parseValid("services:\n  agent:\n    image: a\n    deploy:\n      mode: global\n      replicas: 3\n")
        #expect(spec.services.first?.mode == .global)
        #expect(result.warnings.map(\.line) == [6])
    }

    @Test func unknownExtensionLabelsWarnAndProbeOrScalingWithoutTheirKeyIsAnError() {
        let result = ComposeParser.parse("""
        services:
          web:
            image: nginx
            labels:
              aliyun.lb.port_80: tcp://slb:80
              aliyun.probe.timeout_seconds: '2'
              aliyun.auto_scaling.step: '2'
        """)
        #expect(result.diagnostics.map(\.severity) == [.warning, .error, .error])
        #expect(result.diagnostics.map(\.line) == [5, 6, 7])
        #expect(result.diagnostics[1].message == "probe settings need 'probe.url' or 'probe.cmd'")
        #expect(result.diagnostics[2].message.contains("needs 'auto_scaling.max_cpu' or 'auto_scaling.min_cpu'"))
    }

    @Test func probeURLAndCommandTogetherIsAnError() {
        let result = ComposeParser.parse("services:\n  web:\n    image: nginx\n    labels:\n      aliyun.probe.url: http://container\n      aliyun.probe.cmd: check\n")
        #expect(result.errors.map(\.line) == [6])
    }

    @Test func interpolationAppliesToValuesNotKeys() throws {
        let (spec, result) = try parseValid("services:\n  web:\n    image: nginx\n    labels:\n      ${KEY}: ${VALUE}\n", variables: ["KEY": "k", "VALUE": "v"])
        #expect(spec.services.first?.labels == ["${KEY}": "v"])
        #expect(result.variables.map(\.name) == ["VALUE"])
    }

    @Test func interpolatedNumbersAreReadAsNumbers() throws {
        let (spec, _) = try parseValid("services:\n  web:\n    image: nginx\n    scale: ${N}\n    ports: [\"${P}:80\"]\n", variables: ["N": "4", "P": "8080"])
        #expect(spec.services.first?.replicas == 4)
        #expect(spec.services.first?.ports.first?.published == PortRange(8080))
    }

    @Test func bareEnvironmentKeysAreListedAndPassedThroughWhenGiven() throws {
        let text = "services:\n  web:\n    image: nginx\n    environment:\n      - TOKEN\n      - OTHER\n"
        let (spec, result) = try parseValid(text, variables: ["TOKEN": "t0k"])
        #expect(spec.services.first?.environment == [EnvironmentVariable(name: "TOKEN", value: "t0k"), EnvironmentVariable(name: "OTHER", value: nil)])
        #expect(result.variables.map(\.name) == ["TOKEN", "OTHER"])
        #expect(result.variables.allSatisfy { $0.kind == .passthrough })
        #expect(result.missingVariables.isEmpty, "an unset pass-through variable is simply unset")
        #expect(result.diagnostics.isEmpty)
    }

    @Test func variablesAreListedEvenWhenTheTextIsInvalid() {
        let result = ComposeParser.parse("services:\n  web:\n    image: ${IMAGE:?}\n    ports: [\"${PORT:-80}:80\"]\n")
        #expect(result.spec == nil)
        #expect(result.variables.map(\.name) == ["IMAGE", "PORT"])
        #expect(result.missingVariables == ["IMAGE"])
    }

    @Test func missingVariablesAreThoseWhoseAbsenceIsFelt() {
        let result = ComposeParser.parse("""
        services:
          web:
            image: nginx:${TAG:-latest}
            environment:
              A: ${ALT:+on}
              B: ${OUTER:-${INNER}}
              C: ${PLAIN}
              D: ${NEEDED?}
              E: ${PLAIN}
        """)
        #expect(result.missingVariables == ["INNER", "PLAIN", "NEEDED"])
        #expect(result.variables.map(\.name) == ["TAG", "ALT", "OUTER", "INNER", "PLAIN", "NEEDED", "PLAIN"])
        #expect(result.diagnostics.map(\.severity) == [.warning, .warning, .error, .warning])
    }

    @Test func linksToExternalServicesAreValidAndNotContainers() throws {
        let (spec, _) = try parseValid("""
        services:
          app:
            image: a
            links: ["db:mysql"]
            labels:
              aliyun.depends: db
          db:
            external:
              host: db.example.com
              ports: [3306]
        """)
        #expect(spec.services.map(\.name) == ["app"])
        #expect(spec.services.first?.dependsOn == [ServiceDependency(service: "db")])
        #expect(spec.externalServices.map(\.name) == ["db"])
    }

    @Test func duplicateKeysAreYAMLErrors() {
        let result = ComposeParser.parse("services:\n  web:\n    image: a\n    image: b\n")
        #expect(result.errors.first?.message.contains("duplicate key") == true)
    }

    @Test func yamlSyntaxErrorsCarryTheirPosition() {
        let result = ComposeParser.parse("services:\n  web:\n    image: \"unterminated\n")
        #expect(result.errors.count == 1)
        #expect(result.errors.first?.line != nil)
        #expect(result.errors.first?.message.hasPrefix("invalid YAML") == true)
    }

    @Test func specIsDeterministicAndRoundTripsThroughJSON() throws {
        let text = try fixtureText("wordpress-cloud.yml")
        let first = ComposeParser.parse(text).spec
        #expect(first == ComposeParser.parse(text).spec)
        let data = try JSONEncoder().encode(try #require(first))
        #expect(try JSONDecoder().decode(AppSpec.self, from: data) == first)
    }
}
