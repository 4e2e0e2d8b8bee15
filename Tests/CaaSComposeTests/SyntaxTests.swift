@testable import CaaSCompose
import CaaSModel
import Testing

@Suite struct PortSyntaxTests {
    @Test(arguments: [
        ("80", PortMapping(target: PortRange(80))),
        ("8080:80", PortMapping(target: PortRange(80), published: PortRange(8080))),
        ("127.0.0.1:8080:80", PortMapping(target: PortRange(80), published: PortRange(8080), hostIP: "127.0.0.1")),
        ("127.0.0.1::80", PortMapping(target: PortRange(80), hostIP: "127.0.0.1")),
        ("8000-8010:8000-8010", PortMapping(target: PortRange(8000, 8010), published: PortRange(8000, 8010))),
        ("9090-9091:8080-8081", PortMapping(target: PortRange(8080, 8081), published: PortRange(9090, 9091))),
        ("6060:6060/udp", PortMapping(target: PortRange(6060, protocol: .udp), published: PortRange(6060, protocol: .udp))),
        ("[::1]:80:80", PortMapping(target: PortRange(80), published: PortRange(80), hostIP: "::1")),
        ("[fe80::1]::53/udp", PortMapping(target: PortRange(53, protocol: .udp), hostIP: "fe80::1")),
        ("65535", PortMapping(target: PortRange(65535))),
    ])
    func shortSyntax(text: String, expected: PortMapping) throws {
        #expect(try PortSyntax.parseShort(text) == expected)
    }

    @Test(arguments: [
        ("8000-8010:80", "the published range has 11 ports but the container range has 1"),
        ("80-81:80", "the published range has 2 ports but the container range has 1"),
        ("65536", "container port 65536 is out of range"),
        ("0:80", "published port 0 is out of range"),
        ("80/tcp/udp", "'80/tcp' is not a valid container port"),
        ("80/icmp", "unknown protocol 'icmp'"),
        ("1.2.3:80:80", "'1.2.3' is not an IP address"),
        ("[::1:80:80", "unterminated '['"),
        ("[::1]80", "expected ':' after the bracketed host address"),
        (":80:80", "empty host address"),
        ("", "is not a valid container port"),
        ("80-", "is not a valid container port"),
        ("-80", "is not a valid container port"),
        ("eighty", "is not a valid container port"),
        ("1:2:3:4", "is not a port mapping"),
    ])
    func shortSyntaxErrors(text: String, fragment: String) {
        #expect {
            try PortSyntax.parseShort(text)
        } throws: { error in
            (error as? PortSyntax.Failure)?.message.contains(fragment) == true
        }
    }
}

@Suite struct VolumeSyntaxTests {
    @Test(arguments: [
        ("data:/data", VolumeMount(kind: .volume, source: "data", target: "/data")),
        ("data:/data:ro", VolumeMount(kind: .volume, source: "data", target: "/data", readOnly: true)),
        ("./src:/app:rw", VolumeMount(kind: .bind, source: "./src", target: "/app")),
        ("/etc/hosts:/etc/hosts:ro,z", VolumeMount(kind: .bind, source: "/etc/hosts", target: "/etc/hosts", readOnly: true)),
        ("~/x:/x", VolumeMount(kind: .bind, source: "~/x", target: "/x")),
        ("/cache", VolumeMount(kind: .anonymous, source: nil, target: "/cache")),
        ("vol:/v:nocopy", VolumeMount(kind: .volume, source: "vol", target: "/v")),
    ])
    func shortSyntax(text: String, expected: VolumeMount) throws {
        #expect(try VolumeSyntax.parseShort(text) == expected)
    }

    @Test(arguments: [
        ("data:relative", "must be absolute"),
        ("data:/x:rx", "unknown volume mode 'rx'"),
        (":/x", "empty volume source"),
        ("a:/b:ro:extra", "is not a volume"),
        ("relative", "must be absolute"),
    ])
    func shortSyntaxErrors(text: String, fragment: String) {
        #expect {
            try VolumeSyntax.parseShort(text)
        } throws: { error in
            (error as? VolumeSyntax.Failure)?.message.contains(fragment) == true
        }
    }
}

@Suite struct ShellWordsTests {
    @Test(arguments: [
        ("echo hello", ["echo", "hello"]),
        ("  spaced   out  ", ["spaced", "out"]),
        ("sh -c 'echo $HOME; ls'", ["sh", "-c", "echo $HOME; ls"]),
        ("say \"a \\\"quoted\\\" word\"", ["say", "a \"quoted\" word"]),
        ("one\\ word", ["one word"]),
        ("''", [""]),
        ("a\"b c\"d", ["ab cd"]),
        ("", []),
    ])
    func splitsLikeAShell(text: String, words: [String]) throws {
        #expect(try ShellWords.split(text) == words)
    }

    @Test func unterminatedQuotesAreErrors() {
        #expect(throws: ShellWords.UnterminatedQuote(quote: "'")) { try ShellWords.split("echo 'oops") }
        #expect(throws: ShellWords.UnterminatedQuote(quote: "\"")) { try ShellWords.split("echo \"oops") }
    }
}

@Suite struct UnitsTests {
    @Test(arguments: [("10s", 10.0), ("1m30s", 90), ("1h", 3600), ("500ms", 0.5), ("1.5s", 1.5), ("2us", 0.000002), ("15", 15), ("0s", 0), ("1h2m3s", 3723)])
    func durations(text: String, seconds: Double) {
        #expect(Units.seconds(text).map { abs($0 - seconds) < 1e-9 } == true)
    }

    @Test(arguments: ["", "10", "s", "10x", "-5s", "1m-2s", "ten seconds"].filter { $0 != "10" })
    func badDurations(text: String) {
        #expect(Units.seconds(text) == nil)
    }

    @Test(arguments: [
        ("1024", Int64(1024)), ("512M", 536_870_912), ("512m", 536_870_912), ("1g", 1_073_741_824), ("1.5GB", 1_610_612_736),
        ("100k", 102_400), ("64kb", 65_536), ("1b", 1), ("2tb", 2_199_023_255_552),
    ])
    func byteSizes(text: String, bytes: Int64) {
        #expect(Units.bytes(text) == bytes)
    }

    @Test(arguments: ["", "lots", "12q", "-1m", "1e3"])
    func badByteSizes(text: String) {
        #expect(Units.bytes(text) == nil)
    }
}

@Suite struct ConstraintSyntaxTests {
    @Test func swarmModeForms() throws {
        #expect(try ConstraintSyntax.parseSwarmMode("node.labels.az == 2")
            == PlacementConstraint(attribute: .nodeLabel("az"), op: .equal, value: .exact("2"), source: "node.labels.az == 2"))
        #expect(try ConstraintSyntax.parseSwarmMode("node.hostname!=x").attribute == .nodeName)
        #expect(try ConstraintSyntax.parseSwarmMode("node.hostname!=x").op == .notEqual)
        #expect(try ConstraintSyntax.parseSwarmMode("node.id==abc").attribute == .nodeID)
        #expect(try ConstraintSyntax.parseSwarmMode("engine.labels.disk==ssd").attribute == .nodeLabel("disk"))
        #expect(try ConstraintSyntax.parseSwarmMode("node.labels.region == /eu-.*/").value == .pattern("eu-.*"))
    }

    @Test func classicEnvironmentForms() throws {
        #expect(try ConstraintSyntax.parseEnvironment("availability:az==2")
            == .constraint(PlacementConstraint(attribute: .nodeLabel("az"), op: .equal, value: .exact("2"), source: "availability:az==2")))
        #expect(try ConstraintSyntax.parseEnvironment("constraint:node==web-1")
            == .constraint(PlacementConstraint(attribute: .nodeName, op: .equal, value: .exact("web-1"), source: "constraint:node==web-1")))
        #expect(try ConstraintSyntax.parseEnvironment("constraint:region!=/us-.*/")
            == .constraint(PlacementConstraint(attribute: .nodeLabel("region"), op: .notEqual, value: .pattern("us-.*"), source: "constraint:region!=/us-.*/")))
        #expect(try ConstraintSyntax.parseEnvironment("constraint:node==web-*")
            == .constraint(PlacementConstraint(attribute: .nodeName, op: .equal, value: .pattern("web\\-.*"), source: "constraint:node==web-*")))
        guard case .ignored = try ConstraintSyntax.parseEnvironment("affinity:image==redis") else {
            Issue.record("affinity should be ignored with a warning")
            return
        }
        guard case .ignored = try ConstraintSyntax.parseEnvironment("constraint:az==~2") else {
            Issue.record("soft constraints should be ignored with a warning")
            return
        }
    }

    @Test(arguments: ["constraint:az", "constraint:==2", "constraint:az==", "constraint:region==/([/"])
    func classicErrors(text: String) {
        #expect(throws: ConstraintSyntax.Failure.self) { try ConstraintSyntax.parseEnvironment(text) }
    }
}

@Suite struct ServiceNameTests {
    @Test(arguments: ["web", "db-1", "a", "0api", String(repeating: "a", count: 63)])
    func dnsLabelsAreAccepted(name: String) {
        #expect(ServiceName.problem(name) == nil)
    }

    @Test(arguments: [
        ("Web", "must be lowercase"), ("my_app", "cannot become a DNS label"), ("a.b", "cannot become a DNS label"),
        ("-a", "must start and end"), ("a-", "must start and end"), (String(repeating: "a", count: 64), "longer than 63"),
        ("we b", "may only contain"), ("", "cannot be empty"),
    ])
    func othersSayWhichRuleTheyBreak(name: String, fragment: String) {
        #expect(ServiceName.problem(name)?.contains(fragment) == true)
    }
}

@Suite struct DependencyCycleTests {
    @Test func reportsEachCycleOnceFromTheFirstDeclaredService() {
        let cycles = DependencyCycles.find(order: ["a", "b", "c", "d"], edges: ["b": ["c"], "c": ["a"], "a": ["b"], "d": ["d"]])
        #expect(cycles.map(\.description) == ["a -> b -> c -> a", "d -> d"])
    }

    @Test func acyclicGraphsHaveNoCycles() {
        #expect(DependencyCycles.find(order: ["a", "b", "c"], edges: ["a": ["b", "c"], "b": ["c"]]).isEmpty)
    }
}

@Suite struct RouteAndProbeTests {
    @Test func probeURLs() throws {
        #expect(try LabelExtensions.parseProbeURL("http://container") == .http(port: 80, path: "/"))
        #expect(try LabelExtensions.parseProbeURL("http://container:8080/health?full=1") == .http(port: 8080, path: "/health?full=1"))
        #expect(try LabelExtensions.parseProbeURL("tcp://container:6379") == .tcp(port: 6379))
        #expect(throws: LabelExtensions.Failure.self) { try LabelExtensions.parseProbeURL("http://other:80") }
        #expect(throws: LabelExtensions.Failure.self) { try LabelExtensions.parseProbeURL("http://container:0") }
        #expect(throws: LabelExtensions.Failure.self) { try LabelExtensions.parseProbeURL("http://container:http") }
        #expect(throws: LabelExtensions.Failure.self) { try LabelExtensions.parseProbeURL("udp://container:53") }
        #expect(throws: LabelExtensions.Failure.self) { try LabelExtensions.parseProbeURL("container:80") }
    }

    @Test func routes() throws {
        #expect(try LabelExtensions.parseRoute("restserver.local", port: 80) == Route(containerPort: 80, host: "restserver.local"))
        #expect(try LabelExtensions.parseRoute("http://wordpress", port: 80) == Route(containerPort: 80, host: "wordpress", scheme: "http"))
        #expect(try LabelExtensions.parseRoute("https://Shop.Example/api", port: 443) == Route(containerPort: 443, host: "shop.example", scheme: "https", path: "/api"))
        #expect(try LabelExtensions.parseRoute("*.company.com", port: 80) == Route(containerPort: 80, host: "*.company.com"))
        #expect(throws: LabelExtensions.Failure.self) { try LabelExtensions.parseRoute("web.local:8080", port: 80) }
        #expect(throws: LabelExtensions.Failure.self) { try LabelExtensions.parseRoute("bad host", port: 80) }
    }
}
