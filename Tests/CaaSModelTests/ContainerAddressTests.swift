import CaaSModel
import Testing

/// Container addresses in a node subnet (issue 15 item 1): pure decisions.
@Suite struct ContainerAddressTests {
    let subnet = IPv4Network("198.18.1.0/24")!

    @Test func theGatewayIsTheFirstHostAndContainersStartAfterIt() {
        #expect(ContainerAddressAllocator.gateway(of: subnet) == "198.18.1.1")
        #expect(ContainerAddressAllocator.pick(3, in: subnet, held: []) == ["198.18.1.2", "198.18.1.3", "198.18.1.4"])
        #expect(ContainerAddressAllocator.capacity(of: subnet) == 252)
        #expect(ContainerAddressAllocator.nameServer(of: subnet) == "198.18.1.254", "the last host address is the name server's")
        #expect(!ContainerAddressAllocator.pick(300, in: subnet, held: []).contains("198.18.1.254"))
    }

    @Test func anAddressHeldIsNeverGivenAgainAndAFreedOneIs() {
        let held = ["198.18.1.2", "198.18.1.4", "10.0.0.9"]
        #expect(ContainerAddressAllocator.pick(2, in: subnet, held: held) == ["198.18.1.3", "198.18.1.5"])
        // Once 198.18.1.2's container row is gone, it is free again.
        #expect(ContainerAddressAllocator.pick(1, in: subnet, held: ["198.18.1.4"]) == ["198.18.1.2"])
    }

    @Test func aFullSubnetGivesWhatItHasAndNeverTheNetworkGatewayOrBroadcast() {
        let small = IPv4Network("198.18.2.0/29")!  // .0 network, .1 gateway, .2–.5 containers, .6 name server, .7 broadcast
        let all = ContainerAddressAllocator.pick(10, in: small, held: [])
        #expect(all == ["198.18.2.2", "198.18.2.3", "198.18.2.4", "198.18.2.5"])
        #expect(ContainerAddressAllocator.capacity(of: small) == 4)
        #expect(ContainerAddressAllocator.nameServer(of: small) == "198.18.2.6")
        #expect(ContainerAddressAllocator.pick(1, in: small, held: all).isEmpty)
        #expect(ContainerAddressAllocator.pick(1, in: IPv4Network("198.18.3.0/31")!, held: []).isEmpty)
        #expect(ContainerAddressAllocator.pick(1, in: IPv4Network("198.18.3.0/30")!, held: []).isEmpty, "no room beside gateway and name server")
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

@Suite struct ServiceNamesTests {
    @Test func servicesLinkAliasesAndExternalServicesAreTheApplicationsNames() {
        let names = ServiceNames.names(services: ["web": [], "db": ["database", "db.internal"]],
                                       links: [ServiceLink(target: "db", alias: "mysql"), ServiceLink(target: "cache")],
                                       externals: ["rds": "rds-1.example.com", "legacy": "10.1.2.3"])
        #expect(names == [DesiredName(name: "mysql", service: "db"), DesiredName(name: "cache", service: "cache"),
                          DesiredName(name: "db", service: "db"), DesiredName(name: "web", service: "web"),
                          DesiredName(name: "database", service: "db"), DesiredName(name: "db.internal", service: "db"),
                          DesiredName(name: "legacy", target: "10.1.2.3"), DesiredName(name: "rds", target: "rds-1.example.com")])
        // An alias named like another service means the linked one; a network alias never hides a service's own name.
        let shadowed = ServiceNames.names(services: ["db": [], "db2": ["db"]], links: [ServiceLink(target: "db2", alias: "db")], externals: [:])
        #expect(shadowed.first { $0.name == "db" }?.service == "db2")
        let aliased = ServiceNames.names(services: ["db": [], "db2": ["db"]], links: [], externals: [:])
        #expect(aliased.first { $0.name == "db" }?.service == "db")
        #expect(ServiceNames.names(services: [:], links: [], externals: [:]).isEmpty)
    }
}
