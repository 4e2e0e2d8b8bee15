import CaaSModel
import Testing

/// Container addresses in a node subnet (issue 15 item 1): pure decisions.
@Suite struct ContainerAddressTests {
    let subnet = IPv4Network("198.18.1.0/24")!

    @Test func theGatewayIsTheFirstHostAndContainersStartAfterIt() {
        #expect(ContainerAddressAllocator.gateway(of: subnet) == "198.18.1.1")
        #expect(ContainerAddressAllocator.pick(3, in: subnet, held: []) == ["198.18.1.2", "198.18.1.3", "198.18.1.4"])
        #expect(ContainerAddressAllocator.capacity(of: subnet) == 253)
    }

    @Test func anAddressHeldIsNeverGivenAgainAndAFreedOneIs() {
        let held = ["198.18.1.2", "198.18.1.4", "10.0.0.9"]
        #expect(ContainerAddressAllocator.pick(2, in: subnet, held: held) == ["198.18.1.3", "198.18.1.5"])
        // Once 198.18.1.2's container row is gone, it is free again.
        #expect(ContainerAddressAllocator.pick(1, in: subnet, held: ["198.18.1.4"]) == ["198.18.1.2"])
    }

    @Test func aFullSubnetGivesWhatItHasAndNeverTheNetworkGatewayOrBroadcast() {
        let small = IPv4Network("198.18.2.0/29")!  // .0 network, .1 gateway, .2–.6 containers, .7 broadcast
        let all = ContainerAddressAllocator.pick(10, in: small, held: [])
        #expect(all == ["198.18.2.2", "198.18.2.3", "198.18.2.4", "198.18.2.5", "198.18.2.6"])
        #expect(ContainerAddressAllocator.capacity(of: small) == 5)
        #expect(ContainerAddressAllocator.pick(1, in: small, held: all).isEmpty)
        #expect(ContainerAddressAllocator.pick(1, in: IPv4Network("198.18.3.0/31")!, held: []).isEmpty)
    }

    @Test func theNetworkIsNamedAfterTheClusterAndNetworkingModesAreSpelledAsInTheAPI() {
        #expect(ContainerAddressAllocator.networkName(clusterId: "clu_abc") == "caas-clu_abc")
        #expect(ClusterNetworking.allCases.map(\.rawValue) == ["host", "node_subnets"])
    }
}

@Suite struct NodeRouteTests {
    @Test func theAddressLabelWinsThenATCPEngineHostElseNone() {
        #expect(NodeRoute.via(labels: ["caas.address": "198.19.1.2"], engineEndpoint: "tcp://10.0.0.5:2376") == "198.19.1.2")
        #expect(NodeRoute.via(labels: [:], engineEndpoint: "tcp://10.0.0.5:2376") == "10.0.0.5")
        #expect(NodeRoute.via(labels: [:], engineEndpoint: "unix:///var/run/docker.sock") == nil)
        #expect(NodeRoute.via(labels: ["caas.address": "not-an-address"], engineEndpoint: "tcp://node1.example:2376") == nil)
    }
}

@Suite struct ServiceHostsTests {
    @Test func servicesAndLinkAliasesResolveToTheirContainersAddresses() {
        let entries = ServiceHosts.entries(links: [ServiceLink(target: "db", alias: "mysql"), ServiceLink(target: "cache")],
                                           addresses: ["db": ["198.18.1.2"], "web": ["198.18.1.3", "198.18.2.2"]])
        #expect(entries == ["db:198.18.1.2", "web:198.18.1.3", "web:198.18.2.2", "mysql:198.18.1.2"])
        #expect(ServiceHosts.entries(links: [], addresses: [:]).isEmpty)
    }
}
