import CaaSModel
import Testing
@testable import CaaSAgent

/// The ports containers are given and the ports their probes check, on values: what a restarted
/// agent adopts from the engines, and a spec that sets `PORT` itself.
@Suite struct PortAssignmentTests {
    static let range = 20_000..<20_010
    static let probe = Probe(check: .http(port: 80, path: "/health"))

    static func container(_ id: String, ports: [DesiredPort] = [], network: DesiredNetwork = .host, probe: Probe? = probe,
                          environment: [EnvironmentVariable] = []) -> DesiredContainer {
        DesiredContainer(containerId: id, tenantId: "ten_x", appId: "app_x", appName: "shop", serviceName: "web", slot: 1, generation: 1,
                         image: "busybox", environment: environment, network: network, ports: ports, probe: probe)
    }

    static func state(_ containers: [DesiredContainer]) -> DesiredClusterState {
        DesiredClusterState(clusterId: "clu_a", generation: 1, nodes: [DesiredNodeState(nodeId: "n1", containers: containers)])
    }

    /// Each container of a completed state by id.
    static func decorated(_ assignment: PortAssignment, _ containers: [DesiredContainer]) -> [String: DesiredContainer] {
        Dictionary(uniqueKeysWithValues: assignment.decorate(state(containers)).nodes.flatMap(\.containers).map { ($0.containerId, $0) })
    }

    static func env(_ container: DesiredContainer?, _ name: String) -> Int? {
        container?.environment.last { $0.name == name }?.value.flatMap(Int.init)
    }

    static func probePort(_ container: DesiredContainer?) -> Int? {
        container?.probe.flatMap { port(of: $0.check) }
    }

    static func port(of check: Probe.Check) -> Int? {
        switch check {
        case .http(let port, _), .tcp(let port): port
        case .command: nil
        }
    }

    /// Ids that collide at the range's fourth port, in id order (deterministic).
    static func collidingIds(_ count: Int) -> [String] {
        var n = 0
        return Fixture.containerIds(startingAt: 3, in: range, count: count) {
            n += 1
            return "ctr_t\(n)"
        }
    }

    // MARK: Adoption

    @Test func aRestartedAgentThatAdoptsTheHeldPortsKeepsThemAndPlacesACollidingNewcomerAroundThem() throws {
        let ids = Self.collidingIds(3)
        let (newcomer, first, second) = (ids[0], ids[1], ids[2])
        let running = Self.decorated(PortAssignment(range: Self.range), [Self.container(first), Self.container(second)])
        let held = [first: Self.env(running[first], "CAAS_PORT")!, second: Self.env(running[second], "CAAS_PORT")!]
        #expect(held == [first: 20_003, second: 20_004], "the second of two colliding ids takes the next port")

        let grown = [Self.container(first), Self.container(second), Self.container(newcomer)]
        // Without what the engines hold, the newcomer (first in id order) would take the first's port.
        let forgetful = Self.decorated(PortAssignment(range: Self.range), grown)
        #expect(Self.env(forgetful[newcomer], "CAAS_PORT") == held[first])

        let restarted = PortAssignment(range: Self.range)
        restarted.adopt(held)
        let after = Self.decorated(restarted, grown)
        for (id, port) in held {
            #expect(Self.env(after[id], "CAAS_PORT") == port)
            #expect(Self.env(after[id], "PORT") == port)
            #expect(Self.probePort(after[id]) == port, "the probe follows the port the container holds")
            #expect(restarted.port(of: id) == port)
        }
        let given = try #require(Self.env(after[newcomer], "CAAS_PORT"))
        #expect(given == 20_005, "the next free port")
        #expect(Self.env(after[newcomer], "PORT") == given)
        #expect(Self.probePort(after[newcomer]) == given)
    }

    @Test func aPortTheEngineHoldsWinsOverOneDerivedBefore() throws {
        let assignment = PortAssignment(range: Self.range)
        let container = Self.container("ctr_x")
        let derived = try #require(Self.env(Self.decorated(assignment, [container])["ctr_x"], "CAAS_PORT"))
        let held = derived == 20_009 ? 20_000 : derived + 1
        // Observed on its engine with another port (its engine was unreachable when the agent started).
        assignment.adopt(["ctr_x": held])
        let after = Self.decorated(assignment, [container, Self.container("ctr_y")])
        #expect(Self.env(after["ctr_x"], "CAAS_PORT") == held)
        #expect(Self.probePort(after["ctr_x"]) == held)
        #expect(Self.env(after["ctr_y"], "CAAS_PORT") != held)
    }

    @Test func aHeldPortOfAContainerNoLongerDesiredIsFreedAtTheNextState() {
        let assignment = PortAssignment(range: Self.range)
        let ids = Self.collidingIds(2)
        assignment.adopt([ids[0]: 20_003])
        // Only the other one is desired: it gets its own derived port, the one the stray held.
        let after = Self.decorated(assignment, [Self.container(ids[1])])
        #expect(Self.env(after[ids[1]], "CAAS_PORT") == 20_003)
        #expect(assignment.port(of: ids[0]) == nil)
    }

    @Test func theHeldPortIsAHostNetworkContainersCAASPort() {
        #expect(PortAssignment.heldPort(networkMode: "host", environment: ["CAAS_PORT=20003", "PORT=9999"]) == 20_003,
                "the port the agent gave, not the spec's own PORT")
        #expect(PortAssignment.heldPort(networkMode: "host", environment: ["CAAS_PORT=20003", "CAAS_PORT=20004"]) == 20_004,
                "the last, as the engine keeps it")
        #expect(PortAssignment.heldPort(networkMode: "host", environment: ["PORT=9999"]) == nil)
        #expect(PortAssignment.heldPort(networkMode: "host", environment: ["CAAS_PORT=http"]) == nil)
        #expect(PortAssignment.heldPort(networkMode: "none", environment: ["CAAS_PORT=20003"]) == nil)
        #expect(PortAssignment.heldPort(networkMode: "bridge", environment: ["CAAS_PORT=20003"]) == nil)
    }

    // MARK: A spec that sets PORT

    @Test func aSpecThatSetsPortIsProbedThereAndItsPortIsGivenToNoOther() {
        let ids = Self.collidingIds(2)
        // The spec's PORT is the port the other container's id derives.
        let own = Self.container(ids[0], environment: [EnvironmentVariable(name: "PORT", value: "20003")])
        let other = Self.container(ids[1])
        let after = Self.decorated(PortAssignment(range: Self.range), [own, other])
        #expect(Self.env(after[ids[0]], "PORT") == 20_003, "the spec's own PORT wins")
        #expect(Self.probePort(after[ids[0]]) == 20_003, "its probe checks where it serves")
        #expect(Self.env(after[ids[0]], "CAAS_PORT") != 20_003)
        #expect(Self.env(after[ids[1]], "CAAS_PORT") != 20_003, "no other container is given it")
        #expect(Self.probePort(after[ids[1]]) == Self.env(after[ids[1]], "CAAS_PORT"))
    }

    @Test func aBarePortWithoutAValueIsNotTheSpecsOwn() throws {
        let bare = Self.container("ctr_bare", environment: [EnvironmentVariable(name: "PORT", value: nil)])
        let after = Self.decorated(PortAssignment(range: Self.range), [bare])["ctr_bare"]
        let given = try #require(Self.env(after, "CAAS_PORT"))
        #expect(after?.engineEnvironment.contains("PORT=\(given)") == true, "the engine gets the agent's PORT")
        #expect(Self.probePort(after) == given)
    }

    // MARK: The probe's port

    @Test func anHttpOrTcpProbeOfAHostContainerWithoutPublishedPortsChecksThePortItServesOn() {
        let http = Probe.Check.http(port: 80, path: "/health")
        func check(_ check: Probe.Check, _ environment: [String]) -> Probe.Check {
            ProbeTarget.check(check, network: .host, published: [], environment: environment)
        }
        #expect(check(http, ["CAAS_PORT=20003", "PORT=20003"]) == .http(port: 20_003, path: "/health"))
        #expect(check(http, ["CAAS_PORT=20003", "PORT=20003", "PORT=8080"]) == .http(port: 8080, path: "/health"), "the spec's PORT")
        #expect(check(.tcp(port: 5432), ["CAAS_PORT=20003", "PORT=8080"]) == .tcp(port: 8080))
        #expect(check(http, ["CAAS_PORT=20003"]) == .http(port: 20_003, path: "/health"))
        #expect(check(http, ["CAAS_PORT=20003", "PORT=http"]) == .http(port: 20_003, path: "/health"), "a PORT that is no port is passed over")
        #expect(check(http, ["MODE=test"]) == http, "given no port: the probe's own")
    }

    @Test func probesOfPublishingOrNonHostContainersAndCommandProbesAreLeftAlone() {
        let http = Probe.Check.http(port: 80, path: "/")
        let environment = ["CAAS_PORT=18080", "PORT=8080"]
        let published = [DesiredPort(containerPort: 80, hostPort: 18080)]
        #expect(ProbeTarget.check(http, network: .host, published: published, environment: environment) == http)
        #expect(ProbeTarget.check(http, network: .bridge, published: published, environment: environment) == http)
        #expect(ProbeTarget.check(http, network: .none, published: [], environment: environment) == http)
        #expect(ProbeTarget.check(.command(["true"]), network: .host, published: [], environment: environment) == .command(["true"]))
        #expect(!ProbeTarget.follows(.command(["true"]), network: .host, published: []))
        #expect(ProbeTarget.follows(.tcp(port: 1), network: .host, published: []))
    }

    @Test func theProbedPortIsThePortOfTheServingAddress() {
        let environments = [["CAAS_PORT=20003", "PORT=20003"], ["CAAS_PORT=20003", "PORT=20003", "PORT=8080"], ["CAAS_PORT=20003"],
                            ["CAAS_PORT=20003", "PORT=0"], ["PORT=8080", "CAAS_PORT=20003"]]
        for environment in environments {
            let address = ServingAddress.address(networkMode: "host", environment: environment, desired: Self.container("ctr_x"), host: "127.0.0.1")
            let probed = Self.port(of: ProbeTarget.check(.tcp(port: 80), network: .host, published: [], environment: environment))
            #expect(address == probed.map { "127.0.0.1:\($0)" }, "\(environment)")
        }
    }
}
