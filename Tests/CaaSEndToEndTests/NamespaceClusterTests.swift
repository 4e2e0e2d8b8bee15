import CaaSAgent
import CaaSEngineSupport
import CaaSHTTP
import CaaSModel
import Foundation
import Testing

/// The multi-host test cluster itself (issue 15 item 6): two node namespaces, each with a
/// dockerd with bridge networking, linked to the test's namespace and to each other; containers
/// on a bridge network of each node are reached by address from the test's namespace and from a
/// container on the other node; afterwards nothing is left.
@Suite(.serialized) struct NamespaceClusterTests {
    static let available = NamespaceCluster.unavailableReason == nil

    /// A busybox container created directly on an engine: `httpd` on port 80 of its own address.
    static func serve(on engine: EngineClient, network: String, address: String, name: String) async throws -> String {
        var body = ContainerCreateBody(DesiredContainer(containerId: name, tenantId: "ten_t", appId: "app_t", appName: "t", serviceName: "web", slot: 1,
                                                        generation: 1, image: BusyboxImage.reference,
                                                        command: ["httpd", "-f", "-p", "80", "-h", "/www"]), clusterId: "clu_nstest")
        body.hostConfig.networkMode = network
        body.networkingConfig = .init(endpointsConfig: [network: .init(ipamConfig: .init(ipv4Address: address), aliases: nil)])
        let id = try await engine.createContainer(name: name, body: body)
        try await engine.startContainer(id)
        return id
    }

    /// A command that fetches `/index.html` from `address` and succeeds when it is the test page
    /// (busybox `nc`: its static `wget` crashes in these containers).
    static func fetch(_ address: String, port: Int) -> [String] {
        ["sh", "-c", "printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 3 \(address) \(port) | busybox grep -q 'caas test page'"]
    }

    @Test(.enabled(if: available, "needs root, ip, nsenter, iptables, dockerd and busybox"), .timeLimit(.minutes(2)))
    func containersOnTwoNodesReachEachOtherByAddressAndNothingIsLeft() async throws {
        let client = try HTTPClient()
        defer { client.shutdown() }
        let cluster = try await NamespaceCluster.start(name: "ns", nodes: 2, client: client)
        let names = cluster.nodes.map(\.namespace), interfaces = cluster.nodes.map(\.hostInterface)
        do {
            var ids: [String] = []
            for node in cluster.nodes {
                let engine = EngineClient(transport: HTTPClientTransport(client: client, endpoint: node.engine.endpoint))
                try await engine.createNetwork(NetworkCreateBody(name: "caas-test", subnet: "198.18.\(100 + node.index).0/24", gateway: "198.18.\(100 + node.index).1"))
                ids.append(try await Self.serve(on: engine, network: "caas-test", address: "198.18.\(100 + node.index).10", name: "web-\(node.index)"))
                try cluster.route("198.18.\(100 + node.index).0/24", toNode: node.index)
            }
            // From the test's namespace, by address, through each node's link.
            for node in cluster.nodes {
                let answered = try await eventually(.seconds(10)) {
                    let page = try? await client.execute(try HTTPClientRequest(url: "http://198.18.\(100 + node.index).10/index.html"), timeout: .seconds(2))
                    return page?.bodyText.contains("caas test page") == true
                }
                #expect(answered, "node \(node.index)'s container answers at its address")
            }
            // From a container on node 2 to one on node 1, through the link between the nodes.
            let second = EngineClient(transport: HTTPClientTransport(client: client, endpoint: cluster.nodes[1].engine.endpoint))
            let status = try await second.run(Self.fetch("198.18.101.10", port: 80), in: ids[1], timeoutSeconds: 10)
            #expect(status == 0, "a container on node 2 reaches node 1's container by address")
            let (_, trace) = try cluster.exec(node: 2, "ip", "route", "get", "198.18.101.10")
            #expect(trace.contains("caas-n1"), "node 2 routes node 1's subnet over the link between them: \(trace)")
        } catch {
            Issue.record(error)
        }
        cluster.destroy()
        let namespaces = try NamespaceCluster.capture(["ip", "netns", "list"]).output
        let links = try NamespaceCluster.capture(["ip", "-o", "link", "show"]).output
        let routes = try NamespaceCluster.capture(["ip", "route", "show"]).output
        #expect(names.allSatisfy { !namespaces.contains($0) }, "no namespace is left: \(namespaces)")
        #expect(interfaces.allSatisfy { !links.contains($0) }, "no veth is left")
        // Only this cluster's: another test's cluster may be running meanwhile in this process.
        let mine = cluster.nodes.flatMap { ["198.18.\(100 + $0.index).0/24", $0.hostInterface, $0.hostAddress] }
        #expect(mine.allSatisfy { !routes.contains($0) }, "no route is left: \(routes)")
    }
}
