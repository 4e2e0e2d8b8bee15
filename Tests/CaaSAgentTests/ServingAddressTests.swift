import CaaSModel
import Testing
@testable import CaaSAgent

/// Where a container is reported to serve, decided on values: the engine's network mode and
/// environment, and the desired container the agent applied.
@Suite struct ServingAddressTests {
    static func container(network: DesiredNetwork = .host, ports: [DesiredPort] = []) -> DesiredContainer {
        DesiredContainer(containerId: "ctr_1", tenantId: "ten_x", appId: "app_x", appName: "shop", serviceName: "web", slot: 1, generation: 1,
                         image: "busybox", network: network, ports: ports)
    }

    @Test func aHostNetworkContainerServesOnTheLoopbackHostAtThePortItWasGiven() {
        let desired = Self.container()
        let environment = ["CAAS_CONTAINER_ID=ctr_1", "CAAS_PORT=20345", "PORT=20345"]
        #expect(ServingAddress.address(networkMode: "host", environment: environment, desired: desired, host: "127.0.0.1") == "127.0.0.1:20345")
        #expect(ServingAddress.ports(networkMode: "host", desired: desired) == [])
        // The engine's environment decides, not the desired state the agent holds now (an
        // adopted container keeps the port it was started with).
        #expect(ServingAddress.address(networkMode: "host", environment: environment, desired: nil, host: "127.0.0.1") == "127.0.0.1:20345")
        #expect(ServingAddress.ports(networkMode: "host", desired: nil) == nil, "unknown without the desired container")
        // IPv6 loopback is bracketed.
        #expect(ServingAddress.address(networkMode: "host", environment: environment, desired: desired, host: "::1") == "[::1]:20345")
    }

    @Test func theSpecsOwnPortWinsAsItDoesInTheEngine() {
        let environment = ["CAAS_PORT=20345", "PORT=20345", "PORT=9999"]
        #expect(ServingAddress.address(networkMode: "host", environment: environment, desired: Self.container(), host: "127.0.0.1") == "127.0.0.1:9999")
        // A PORT that is no port number is passed over.
        #expect(ServingAddress.address(networkMode: "host", environment: ["CAAS_PORT=20345", "PORT=http"], desired: nil, host: "127.0.0.1")
                    == "127.0.0.1:20345")
    }

    @Test func aPublishingContainerServesOnItsFirstPublishedHostPort() {
        let ports = [DesiredPort(containerPort: 80, hostPort: 18080), DesiredPort(containerPort: 443, hostPort: 18443)]
        let host = Self.container(ports: ports)
        // Without the variables (a container made before them) the desired state says it.
        #expect(ServingAddress.address(networkMode: "host", environment: [], desired: host, host: "127.0.0.1") == "127.0.0.1:18080")
        #expect(ServingAddress.ports(networkMode: "host", desired: host) == ports)
        let bridge = Self.container(network: .bridge, ports: ports)
        #expect(ServingAddress.address(networkMode: "bridge", environment: [], desired: bridge, host: "127.0.0.1") == "127.0.0.1:18080")
        let bound = Self.container(network: .bridge, ports: [DesiredPort(containerPort: 80, hostPort: 18080, hostAddress: "127.0.1.2")])
        #expect(ServingAddress.address(networkMode: "bridge", environment: [], desired: bound, host: "127.0.0.1") == "127.0.1.2:18080")
        let everywhere = Self.container(network: .bridge, ports: [DesiredPort(containerPort: 80, hostPort: 18080, hostAddress: "0.0.0.0")])
        #expect(ServingAddress.address(networkMode: "bridge", environment: [], desired: everywhere, host: "127.0.0.1") == "127.0.0.1:18080")
    }

    @Test func aContainerWithoutANetworkOrPublishedBridgePortHasNoAddress() {
        let none = Self.container(network: .none, ports: [DesiredPort(containerPort: 80, hostPort: 18080)])
        #expect(ServingAddress.address(networkMode: "none", environment: ["CAAS_PORT=20345"], desired: none, host: "127.0.0.1") == nil)
        #expect(ServingAddress.ports(networkMode: "none", desired: none) == [], "nothing is published without a network")
        #expect(ServingAddress.ports(networkMode: "none", desired: nil) == [])
        #expect(ServingAddress.address(networkMode: "bridge", environment: [], desired: Self.container(network: .bridge), host: "127.0.0.1") == nil)
        #expect(ServingAddress.address(networkMode: "host", environment: [], desired: Self.container(), host: "127.0.0.1") == nil,
                "a host container given no port")
        // Without the engine's mode the desired network decides.
        #expect(ServingAddress.address(networkMode: nil, environment: ["CAAS_PORT=20345"], desired: none, host: "127.0.0.1") == nil)
        #expect(ServingAddress.address(networkMode: nil, environment: ["CAAS_PORT=20345"], desired: Self.container(), host: "127.0.0.1")
                    == "127.0.0.1:20345")
    }
}
