import Foundation
import Testing
import CaaSModel

@Suite struct AgentWireTests {
    static func sampleState() -> DesiredClusterState {
        DesiredClusterState(clusterId: "clu_1", generation: 7, nodes: [
            DesiredNodeState(nodeId: "nod_a", containers: [
                DesiredContainer(
                    containerId: "ctr_abcdefgh12345678abcd", tenantId: "ten_1", appId: "app_1", appName: "shop",
                    serviceName: "web", slot: 2, generation: 3, image: "caas-test/busybox:latest",
                    command: ["httpd", "-f"], environment: [EnvironmentVariable(name: "A", value: "1")],
                    network: .bridge, ports: [DesiredPort(containerPort: 80, hostPort: 18080, hostAddress: "127.0.0.1")],
                    volumes: [DesiredVolume(kind: .volume, source: "data", target: "/data", driver: "local", driverOptions: ["o": "bind"])],
                    limits: Resources(cpus: 0.5, memoryBytes: 64 << 20),
                    probe: Probe(check: .command(["true"])), healthcheck: HealthCheck(test: ["CMD", "true"]),
                    state: .running, stopGracePeriodSeconds: 3),
            ]),
        ])
    }

    @Test func desiredStateRoundTripsThroughSnakeCaseJSON() throws {
        let state = Self.sampleState()
        let data = try AgentWire.encoder().encode(state)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"cluster_id\":\"clu_1\""))
        #expect(text.contains("\"stop_grace_period_seconds\":3"))
        #expect(text.contains("\"host_address\":\"127.0.0.1\""))
        #expect(text.contains("\"memory_bytes\":67108864"))
        #expect(!text.contains("containerId"))
        #expect(try AgentWire.decoder().decode(DesiredClusterState.self, from: data) == state)
    }

    @Test func userKeysCrossTheWireUnchanged() throws {
        // Labels and driver options are the user's own keys: no case conversion may touch them.
        var state = Self.sampleState()
        state.nodes[0].containers[0].labels = ["com.example.max_scale": "3", "camelCase": "x", "UPPER_CASE": "y", "a__b": "z"]
        state.nodes[0].containers[0].volumes[0].driverOptions = ["o_type": "bind", "mountOpts": "ro"]
        let data = try AgentWire.encoder().encode(state)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains(#""com.example.max_scale":"3""#) && text.contains(#""camelCase":"x""#), "\(text)")
        #expect(try AgentWire.decoder().decode(DesiredClusterState.self, from: data) == state)
    }

    @Test func reportRoundTripsWithDates() throws {
        let when = Date(timeIntervalSince1970: 1_790_000_000.25)
        let report = AgentReport(clusterId: "clu_1", sequence: 4, appliedGeneration: 7, sentAt: when, containers: [
            ContainerObservation(containerId: "ctr_1", nodeId: "nod_a", state: .exited, exitCode: 137, oomKilled: true,
                                 health: .unhealthy, startedAt: when, finishedAt: when, engineContainerId: "abc",
                                 cpuPercent: 12.5, memoryBytes: 1024, observedAt: when),
        ], nodes: [NodeObservation(nodeId: "nod_a", engineReachable: false, error: "connection refused", observedAt: when)])
        let data = try AgentWire.encoder().encode(report)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"oom_killed\":true"))
        #expect(text.contains("\"engine_container_id\":\"abc\""))
        #expect(text.contains("\"sent_at\":\"2026-09-21T"))
        #expect(text.contains(".250000Z\""))
        #expect(try AgentWire.decoder().decode(AgentReport.self, from: data) == report)
    }

    @Test func observationCarriesItsAddressAndPublishedPortsInSnakeCase() throws {
        let when = Date(timeIntervalSince1970: 1_790_000_000)
        let observation = ContainerObservation(
            containerId: "ctr_1", nodeId: "nod_a", state: .running, address: "127.0.0.1:20345",
            ports: [DesiredPort(containerPort: 80, hostPort: 18080, hostAddress: "127.0.0.1"), DesiredPort(containerPort: 53, hostPort: 10053, protocol: .udp)],
            observedAt: when)
        let data = try AgentWire.encoder().encode(observation)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"address\":\"127.0.0.1:20345\""))
        #expect(text.contains("\"ports\":[{\"container_port\":80,\"host_address\":\"127.0.0.1\",\"host_port\":18080,\"protocol\":\"tcp\"}"))
        #expect(!text.contains("hostPort"))
        #expect(try AgentWire.decoder().decode(ContainerObservation.self, from: data) == observation)
        // No published ports is an empty list, not the absence of the field.
        let none = ContainerObservation(containerId: "ctr_2", nodeId: "nod_a", state: .running, ports: [], observedAt: when)
        #expect(String(decoding: try AgentWire.encoder().encode(none), as: UTF8.self).contains("\"ports\":[]"))
        #expect(try AgentWire.decoder().decode(ContainerObservation.self, from: try AgentWire.encoder().encode(none)).ports == [])
    }

    @Test func observationFromAnAgentWithoutAddressesStillDecodes() throws {
        // What an agent before `address` and `ports` sends.
        let old = #"""
            {"container_id":"ctr_1","node_id":"nod_a","state":"running","oom_killed":false,"health":"healthy","restart_count":0,
             "engine_container_id":"abc","observed_at":"2026-09-21T14:13:20.000000Z"}
            """#
        let decoded = try AgentWire.decoder().decode(ContainerObservation.self, from: Data(old.utf8))
        #expect(decoded.state == .running)
        #expect(decoded.address == nil)
        #expect(decoded.ports == nil)
        // And a report without either field for any container.
        let report = #"{"cluster_id":"clu_1","sequence":1,"applied_generation":1,"sent_at":"2026-09-21T14:13:20Z","is_full":false,"nodes":[],"containers":["#
            + old + "]}"
        #expect(try AgentWire.decoder().decode(AgentReport.self, from: Data(report.utf8)).containers.first?.address == nil)
    }

    @Test func rfc3339ReadsEngineTimestampsAndTreatsZeroTimeAsNever() {
        let date = RFC3339.parse("2026-11-26T15:31:27.123456789Z")
        #expect(date.map { abs($0.timeIntervalSince1970 - 1_795_707_087.123456789) < 0.000_01 } == true)
        #expect(RFC3339.parse("2026-11-26T16:31:27+01:00") == RFC3339.parse("2026-11-26T15:31:27Z"))
        #expect(RFC3339.parse("0001-01-01T00:00:00Z") == nil)
        #expect(RFC3339.parse("yesterday") == nil)
        #expect(RFC3339.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000000Z")
    }
}

@Suite struct DesiredStateEncoderTests {
    /// A state of `count` containers on two nodes, copies of the sample with their own ids.
    func state(generation: Int64, ids: [String], image: (String) -> String = { _ in "caas-test/busybox:latest" }) -> DesiredClusterState {
        let template = AgentWireTests.sampleState().nodes[0].containers[0]
        let containers = ids.map { id -> DesiredContainer in
            var c = template
            c.containerId = id
            c.image = image(id)
            c.labels = ["com.example.max_scale": "3", "path": "/a/b \"quoted\" ✓"]
            return c
        }
        return DesiredClusterState(clusterId: "clu_1", generation: generation, nodes: [
            DesiredNodeState(nodeId: "nod_a", containers: Array(containers.prefix(ids.count / 2))),
            DesiredNodeState(nodeId: "nod_b/odd", containers: Array(containers.dropFirst(ids.count / 2))),
        ])
    }

    @Test func encodesExactlyAsTheWireEncoderAcrossChangingStates() throws {
        let encoder = DesiredStateEncoder()
        let first = state(generation: 1, ids: (0..<6).map { "ctr_\($0)" })
        #expect(try encoder.encode(first) == Array(try AgentWire.encoder().encode(first)))
        // More containers, one changed in place (same id, new image), one gone: still exact.
        let second = state(generation: 2, ids: (1..<10).map { "ctr_\($0)" }, image: { $0 == "ctr_3" ? "web:2" : "caas-test/busybox:latest" })
        let bytes = try encoder.encode(second)
        #expect(bytes == Array(try AgentWire.encoder().encode(second)))
        #expect(try AgentWire.decoder().decode(DesiredClusterState.self, from: Data(bytes)) == second)
        #expect(String(decoding: bytes, as: UTF8.self).contains(#""image":"web:2""#), "the changed container was encoded again")
    }

    @Test func anEmptyClusterAndEmptyNodesEncodeExactlyToo() throws {
        let encoder = DesiredStateEncoder()
        let empty = DesiredClusterState(clusterId: "clu_1", generation: 3, nodes: [])
        #expect(try encoder.encode(empty) == Array(try AgentWire.encoder().encode(empty)))
        let bare = DesiredClusterState(clusterId: "clu_1", generation: 4, nodes: [DesiredNodeState(nodeId: "nod_a", containers: [])])
        #expect(try encoder.encode(bare) == Array(try AgentWire.encoder().encode(bare)))
    }
}
