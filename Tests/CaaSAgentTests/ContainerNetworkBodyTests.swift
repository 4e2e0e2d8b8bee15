import CaaSAgent
import CaaSModel
import Foundation
import Testing

/// A container on its node's caas network (issue 15 item 1): the engine's create request puts it
/// on the network at its fixed address; the address it is reported at is that address.
@Suite struct ContainerNetworkBodyTests {
    let network = DesiredNodeNetwork(name: "caas-clu_1", subnet: "198.18.1.0/24", gateway: "198.18.1.1", nameServer: "198.18.1.254")
    func container(_ mode: DesiredNetwork, address: String? = nil) -> DesiredContainer {
        DesiredContainer(containerId: "ctr_1", tenantId: "ten_1", appId: "app_1", appName: "shop", serviceName: "db", slot: 1, generation: 1,
                         image: "busybox", network: mode, address: address)
    }

    @Test func aCaasContainerJoinsTheNodeNetworkAtItsAddress() throws {
        let body = ContainerCreateBody(container(.caas, address: "198.18.1.7"), clusterId: "clu_1", network: network)
        #expect(body.hostConfig.networkMode == "caas-clu_1")
        let json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(body)) as? [String: Any])
        let endpoints = (json["NetworkingConfig"] as? [String: Any])?["EndpointsConfig"] as? [String: Any]
        let endpoint = try #require(endpoints?["caas-clu_1"] as? [String: Any])
        #expect((endpoint["IPAMConfig"] as? [String: Any])?["IPv4Address"] as? String == "198.18.1.7")
        #expect(endpoint["Aliases"] == nil, "no engine aliases: the engine's resolver would answer them to every tenant on the node")
        #expect((json["HostConfig"] as? [String: Any])?["Dns"] as? [String] == ["198.18.1.254"], "the node's name server")
        #expect(ServingAddress.address(networkMode: "caas-clu_1", environment: [], desired: container(.caas, address: "198.18.1.7"),
                                       host: "127.0.0.1") == "198.18.1.7")
    }

    @Test func aHostContainerHasNoNetworkingConfig() throws {
        let body = ContainerCreateBody(container(.host), clusterId: "clu_1")
        #expect(body.hostConfig.networkMode == "host")
        let json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(body)) as? [String: Any])
        #expect(json["NetworkingConfig"] == nil)
        #expect((json["HostConfig"] as? [String: Any])?["Dns"] == nil)
    }

    @Test func olderStatesWithoutNetworksStillDecode() throws {
        let state = DesiredClusterState(clusterId: "clu_1", generation: 3,
                                        nodes: [DesiredNodeState(nodeId: "nod_1", containers: [container(.caas, address: "198.18.1.7")], network: network)])
        let decoded = try JSONDecoder().decode(DesiredClusterState.self, from: JSONEncoder().encode(state))
        #expect(decoded == state)
        let old = #"{"clusterId":"clu_1","generation":1,"nodes":[{"nodeId":"nod_1","containers":[]}]}"#
        #expect(try JSONDecoder().decode(DesiredClusterState.self, from: Data(old.utf8)).nodes[0].network == nil)
    }
}

/// The pusher's incremental encoder writes a node's caas network exactly as the wire encoder does.
@Suite struct DesiredNetworkEncodingTests {
    @Test func aNodeNetworkIsEncodedAsTheWireEncoderWouldAndDecodes() throws {
        let network = DesiredNodeNetwork(name: "caas-clu_1", subnet: "198.18.1.0/24", gateway: "198.18.1.1", nameServer: "198.18.1.254")
        let container = DesiredContainer(containerId: "ctr_1", tenantId: "ten_1", appId: "app_1", appName: "shop", serviceName: "db", slot: 1,
                                         generation: 1, image: "busybox", network: .caas, address: "198.18.1.2")
        let state = DesiredClusterState(clusterId: "clu_1", generation: 2, nodes: [
            DesiredNodeState(nodeId: "nod_1", containers: [container], network: network),
            DesiredNodeState(nodeId: "nod_2", containers: []),
        ])
        let fast = try DesiredStateEncoder().encode(state)
        #expect(fast == Array(try AgentWire.encoder().encode(state)))
        #expect(try AgentWire.decoder().decode(DesiredClusterState.self, from: Data(fast)) == state)
    }
}
