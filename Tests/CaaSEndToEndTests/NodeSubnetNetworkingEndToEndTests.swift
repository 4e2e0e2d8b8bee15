import CaaSAgent
import CaaSEngineSupport
import CaaSHTTP
import CaaSModel
import Foundation
import Testing

/// A network per node, an address per container (issue 15 item 1), over the namespace cluster
/// (item 6): a cluster created with `node_subnets` networking, its agent driving two node
/// engines that run in their own network namespaces with bridge networking. The control plane
/// gives each container an address of its node's subnet at placement; the agent makes the
/// cluster's caas network on each engine and the container on it at that address; the node
/// subnets are routed between the nodes by the "infrastructure" (the test, as a VPC route table
/// would), and the containers reach each other by address across the nodes.
@Suite(.serialized) struct NodeSubnetNetworkingEndToEndTests {
    static let web = """
        services:
          web:
            image: caas-test/busybox:latest
            command: ["httpd", "-f", "-p", "80", "-h", "/www"]
            restart: always
            labels:
              aliyun.scale: "2"
        """

    @Test(.enabled(if: NamespaceClusterTests.available, "needs root, ip, nsenter, iptables, dockerd and busybox"), .timeLimit(.minutes(3)))
    func containersOnTwoNodesGetTheirPlannedAddressesAndReachEachOther() async throws {
        let client = try HTTPClient()
        defer { client.shutdown() }
        async let nodesStarting = NamespaceCluster.start(name: "net", nodes: 2, client: client)
        let cp = try await ControlPlaneUnderTest.start("e2e_net")
        let nodes: NamespaceCluster
        do { nodes = try await nodesStarting } catch {
            await cp.stop()
            throw error
        }
        defer { nodes.destroy() }
        var agent: AgentUnderTest?
        do {
            let tenant = try await cp.makeTenant("net")
            // The field is validated: a problem naming it.
            let refused = try await cp.call(.post, "/v1/clusters", token: tenant.admin, body: ["name": "bad", "networking": "overlay"])
            #expect(refused.status == 400 || refused.status == 422, "\(refused.text)")
            #expect(refused.text.contains("/networking"), "\(refused.text)")

            let joined = try await AgentUnderTest.join(cp, adminToken: tenant.admin, cluster: "prod", engines: nodes.nodes.map(\.engine),
                                                       settings: ["network_cidr": "198.18.0.0/16", "node_subnet_prefix": 24, "networking": "node_subnets"])
            agent = joined
            let cluster = try await cp.call(.get, "/v1/clusters/\(joined.clusterID)", token: tenant.admin)
            #expect(cluster["networking"] as? String == "node_subnets", "\(cluster.text)")

            // The infrastructure routes each node's subnet to that node.
            let registered = try await cp.call(.get, "/v1/clusters/\(joined.clusterID)/nodes", token: tenant.admin)
            var subnetByNode: [String: (index: Int, subnet: String)] = [:]
            for item in registered.items {
                let name = try #require(item["name"] as? String), subnet = try #require(item["subnet"] as? String)
                let node = try #require(nodes.nodes.first { $0.engine.name == name }, "node \(name)")
                try nodes.route(subnet, toNode: node.index)
                subnetByNode[try #require(item["id"] as? String)] = (node.index, subnet)
            }

            // The route table for the infrastructure lists each node's subnet.
            let routes = try await cp.call(.get, "/v1/clusters/\(joined.clusterID)/routes", token: tenant.operator)
            #expect(routes.status == 200 && routes["networking"] as? String == "node_subnets", "\(routes.text)")
            #expect(Set(routes.items.compactMap { $0["subnet"] as? String }) == Set(subnetByNode.values.map(\.subnet)), "\(routes.text)")

            let app = try await cp.call(.post, "/v1/apps", token: tenant.operator,
                                        body: ["name": "web", "cluster_id": joined.clusterID, "compose": Self.web])
            #expect(app.status == 202, "\(app.text)")
            let appID = try #require(app["id"] as? String)
            let deployed = await eventually(.seconds(40)) { await joined.running(service: "web").count == 2 }
            let listed = try await cp.call(.get, "/v1/containers?app=\(appID)", token: tenant.operator)
            #expect(deployed, "two web containers run: \(listed.text)")

            // Each has an address of its node's subnet, chosen before it started, all different.
            var addresses: [String: (node: Int, engineID: String)] = [:]
            for item in listed.items {
                let address = try #require(item["address"] as? String, "\(item)")
                let nodeID = try #require(item["node_id"] as? String)
                let placement = try #require(subnetByNode[nodeID])
                let subnet = try #require(IPv4Network(placement.subnet))
                let value = try #require(IPv4Network.parseAddress(address))
                #expect(value & IPv4Network.mask(subnet.prefixLength) == subnet.address, "\(address) is in \(subnet)")
                #expect(address != ContainerAddressAllocator.gateway(of: subnet))
                let engine = nodes.nodes[placement.index - 1].engine
                let containerID = try #require(item["id"] as? String)
                let engineID = try #require(try await EndToEndTests.containers(engine, cluster: joined.clusterID)[containerID]?.engineId)
                addresses[address] = (placement.index, engineID)
            }
            #expect(addresses.count == 2, "two different addresses: \(listed.text)")
            #expect(Set(addresses.values.map(\.node)) == [1, 2], "one container on each node: \(listed.text)")

            // The engine made them on the cluster's caas network at those addresses.
            let networkName = ContainerAddressAllocator.networkName(clusterId: joined.clusterID)
            for node in nodes.nodes {
                let engine = EngineClient(transport: HTTPClientTransport(client: client, endpoint: node.engine.endpoint))
                let network = try await engine.inspectNetwork(networkName)
                #expect(network.labels["caas.cluster"] == joined.clusterID)
                #expect(network.subnets == [subnetByNode.values.first { $0.index == node.index }!.subnet])
            }

            // From the test's namespace, and across the nodes from one container to the other.
            for (address, placement) in addresses {
                let answered = await eventually(.seconds(10)) {
                    let page = try? await client.execute(try HTTPClientRequest(url: "http://\(address)/index.html"), timeout: .seconds(2))
                    return page?.bodyText.contains("caas test page") == true
                }
                #expect(answered, "\(address) answers from the test's namespace")
                let other = try #require(addresses.first { $0.value.node != placement.node })
                let engine = EngineClient(transport: HTTPClientTransport(client: client, endpoint: nodes.nodes[placement.node - 1].engine.endpoint))
                let status = try await engine.run(NamespaceClusterTests.fetch(other.key, port: 80), in: placement.engineID, timeoutSeconds: 10)
                #expect(status == 0, "the container at \(address) on node \(placement.node) reaches \(other.key) on node \(other.value.node)")
            }

            // A replacement gets a new address; the old one is held until its container is gone.
            let victim = try #require(addresses.first)
            let victimEngine = EngineClient(transport: HTTPClientTransport(client: client, endpoint: nodes.nodes[victim.value.node - 1].engine.endpoint))
            try await victimEngine.removeContainer(victim.value.engineID, force: true)
            let replaced = try await eventually(.seconds(30)) {
                let now = try await cp.call(.get, "/v1/containers?app=\(appID)", token: tenant.operator)
                let running = now.items.filter { $0["observed_state"] as? String == "running" }
                return running.count == 2 && Set(running.compactMap { $0["address"] as? String }).count == 2
            }
            #expect(replaced, "the removed container is replaced, with an address of its own")
        } catch {
            Issue.record(error)
        }
        await agent?.stop()
        await cp.stop()
    }

    /// wordpress-mysql.yml shaped (issue 15 item 7): `db` serves a page naming itself on 3306;
    /// `wordpress` (three of them) links `db:mysql`; the test fetches from `mysql:3306` by name
    /// inside each (busybox's nslookup asks the engine's resolver, which asks the node's name
    /// server; the test image's static busybox resolves no names itself, so nc is given the
    /// address nslookup found).
    static let wordpress = """
        services:
          db:
            image: caas-test/busybox:latest
            command: ["sh", "-c", "echo db-$$(busybox hostname) > /www/index.html && exec httpd -f -p 3306 -h /www"]
            restart: always
          wordpress:
            image: caas-test/busybox:latest
            command: ["httpd", "-f", "-p", "80", "-h", "/www"]
            restart: always
            links:
              - db:mysql
            labels:
              aliyun.scale: "3"
        """

    /// Names that resolve (issue 15 item 4): inside every wordpress container the node's name
    /// server answers `db` and its links alias `mysql` with the addresses of db's serving
    /// containers, on both nodes; they follow db as it scales out, is replaced and scales in;
    /// another application's container gets no answer for them.
    @Test(.enabled(if: NamespaceClusterTests.available, "needs root, ip, nsenter, iptables, dockerd and busybox"), .timeLimit(.minutes(4)))
    func serviceNamesAndLinkAliasesResolveToTheServingContainersAddresses() async throws {
        let client = try HTTPClient()
        defer { client.shutdown() }
        async let nodesStarting = NamespaceCluster.start(name: "names", nodes: 2, client: client)
        let cp = try await ControlPlaneUnderTest.start("e2e_names")
        let nodes: NamespaceCluster
        do { nodes = try await nodesStarting } catch {
            await cp.stop()
            throw error
        }
        defer { nodes.destroy() }
        var agent: AgentUnderTest?
        do {
            let tenant = try await cp.makeTenant("names")
            let joined = try await AgentUnderTest.join(cp, adminToken: tenant.admin, cluster: "prod", engines: nodes.nodes.map(\.engine),
                                                       settings: ["network_cidr": "198.18.64.0/18", "node_subnet_prefix": 24, "networking": "node_subnets"])
            agent = joined
            let registered = try await cp.call(.get, "/v1/clusters/\(joined.clusterID)/nodes", token: tenant.admin)
            for item in registered.items {
                let name = try #require(item["name"] as? String), subnet = try #require(item["subnet"] as? String)
                try nodes.route(subnet, toNode: try #require(nodes.nodes.first { $0.engine.name == name }).index)
            }
            let app = try await cp.call(.post, "/v1/apps", token: tenant.operator,
                                        body: ["name": "wp", "cluster_id": joined.clusterID, "compose": Self.wordpress])
            #expect(app.status == 202, "\(app.text)")
            let other = try await cp.call(.post, "/v1/apps", token: tenant.operator,
                                          body: ["name": "other", "cluster_id": joined.clusterID, "compose": Self.loner])
            #expect(other.status == 202, "\(other.text)")
            let deployed = await eventually(.seconds(60)) {
                let db = await joined.running(service: "db").count, wordpress = await joined.running(service: "wordpress").count
                let loner = await joined.running(service: "loner").count
                return db == 1 && wordpress == 3 && loner == 1
            }
            #expect(deployed, "db, three wordpress containers and the other application's container run")
            // Every container was made at its first try: the engines were asked for each node's
            // network once at a time (a second concurrent creation is refused as an overlapping pool).
            let events = try await cp.call(.get, "/v1/events?limit=100", token: tenant.operator)
            var failures: [String] = []
            for item in events.items where (item["type"] as? String) == "container.failed" {
                let id = item["object_id"] as? String ?? ""
                failures.append((try await cp.call(.get, "/v1/containers/\(id)", token: tenant.operator))["status_message"] as? String ?? id)
            }
            #expect(failures.isEmpty, "containers failed: \(failures)")
            let appID = try #require(app["id"] as? String)

            /// The engine and engine id of each running container of `service`.
            func containers(_ service: String) async throws -> [(engine: EngineClient, id: String, node: String)] {
                var found: [(EngineClient, String, String)] = []
                for (containerID, engineName) in await joined.running(service: service) {
                    let engine = try #require(nodes.nodes.first { $0.engine.name == engineName }).engine
                    let engineID = try #require(try await EndToEndTests.containers(engine, cluster: joined.clusterID)[containerID]?.engineId)
                    found.append((EngineClient(transport: HTTPClientTransport(client: client, endpoint: engine.endpoint)), engineID, engineName))
                }
                return found
            }
            /// db's serving addresses as the control plane shows them.
            func dbAddresses() async throws -> Set<String> {
                let listed = try await cp.call(.get, "/v1/containers?app=\(appID)", token: tenant.operator)
                return Set(listed.items.filter { $0["observed_state"] as? String == "running" && $0["service_name"] as? String == "db" }
                    .compactMap { $0["address"] as? String })
            }
            /// Whether `name` answers exactly `addresses` inside the container (busybox's own resolver,
            /// asking the engine's, which asks the node's name server).
            func answers(_ target: (engine: EngineClient, id: String, node: String), _ name: String, _ addresses: Set<String>) async throws -> Bool {
                var script = "out=$(busybox nslookup -type=a \(name) 2>&1) || exit 1"
                for address in addresses { script += "; echo \"$out\" | busybox grep -Eq 'Address:?[[:space:]]+\(address.replacingOccurrences(of: ".", with: "\\."))$' || exit 2" }
                script += "; [ $(echo \"$out\" | busybox grep -Ec 'Address:?[[:space:]]+198\\.') -eq \(addresses.count) ] || exit 3"
                return try await target.engine.run(["busybox", "sh", "-c", script], in: target.id, timeoutSeconds: 10) == 0
            }

            #expect(await eventually(.seconds(20)) { (try? await dbAddresses().count) == 1 }, "the control plane shows db running at its address")
            var db = try await dbAddresses()
            try #require(db.count == 1)
            let wordpress = try await containers("wordpress")
            #expect(wordpress.count == 3 && Set(wordpress.map(\.node)).count == 2, "three wordpress containers across both nodes")
            for container in wordpress {
                for name in ["db", "mysql"] {
                    let resolved = try await eventually(.seconds(10)) { try await answers(container, name, db) }
                    #expect(resolved, "\(name) resolves to db's address \(db) in wordpress on \(container.node)")
                }
            }
            /// Whether every wordpress container fetches the page of the db container `engineID` from `mysql:3306`.
            func everyWordpressFetches(db engineID: String) async throws -> Bool {
                for container in wordpress {
                    let script = "a=$(busybox nslookup -type=a mysql | busybox awk '/^Address: /{x=$2} END{print x}') && [ -n \"$a\" ] && " +
                        "printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 3 $a 3306 | busybox grep -q '^db-\(engineID.prefix(12))'"
                    guard try await container.engine.run(["busybox", "sh", "-c", script], in: container.id, timeoutSeconds: 10) == 0 else { return false }
                }
                return true
            }
            let firstDB = try #require(try await containers("db").first)
            let fetched = try await eventually(.seconds(15)) { try await everyWordpressFetches(db: firstDB.id) }
            #expect(fetched, "every wordpress fetches db's page from mysql:3306 by name")

            // Another application's container: neither name is its own.
            let loner = try #require(try await containers("loner").first)
            let lonerStatus = try await loner.engine.run(["busybox", "nslookup", "-type=a", "db"], in: loner.id, timeoutSeconds: 10)
            #expect(lonerStatus != 0, "db of another application does not resolve")

            // db scales out: the new replica's address joins the answer; scaled in, the removed one leaves it.
            let services = try await cp.call(.get, "/v1/apps/\(appID)/services", token: tenant.operator)
            let dbService = try #require(services.items.first { $0["name"] as? String == "db" }?["id"] as? String)
            for replicas in [2, 1] {
                _ = try await cp.call(.post, "/v1/services/\(dbService)/scale", token: tenant.operator, body: ["replicas": replicas])
                #expect(await eventually(.seconds(40)) { (try? await dbAddresses().count) == replicas })
                db = try await dbAddresses()
                for container in wordpress {
                    let followed = try await eventually(.seconds(5)) { try await answers(container, "mysql", db) }
                    #expect(followed, "mysql answers the \(replicas) db replicas \(db) on \(container.node)")
                }
            }

            // db's container removed behind caas's back: its replacement is followed by the name.
            let dbContainer = try #require(try await containers("db").first)
            try await dbContainer.engine.removeContainer(dbContainer.id, force: true)
            let old = db
            // The replacement: running on an engine and shown running, at its address, by the control plane.
            var replacement: (engine: EngineClient, id: String, node: String)?
            let replacedInTime = await eventually(.seconds(40)) {
                guard let (caasID, _) = await joined.running(service: "db").first, let now = try? await containers("db").first,
                      now.id != dbContainer.id, let shown = try? await cp.call(.get, "/v1/containers/\(caasID)", token: tenant.operator),
                      shown["observed_state"] as? String == "running", let address = shown["address"] as? String else { return false }
                db = [address]
                replacement = now
                return true
            }
            #expect(replacedInTime, "db is replaced")
            let replaced = ContinuousClock.now
            for container in wordpress {
                let followed = try await eventually(.seconds(5)) { try await answers(container, "mysql", db) }
                #expect(followed, "mysql follows db from \(old) to \(db) on \(container.node)")
            }
            let answered = ContinuousClock.now - replaced
            let newDB = try #require(replacement)
            let served = try await eventually(.seconds(10)) { try await everyWordpressFetches(db: newDB.id) }
            #expect(served, "every wordpress fetches the replacement db's page from mysql:3306")
            print("names: db's replacement \(db) answered in every wordpress container \(answered) after the control plane showed it running; its page fetched by name in all three after \(ContinuousClock.now - replaced)")

            // A node's name server removed behind the agent's back is made again.
            let first = try #require(wordpress.first)
            let servers = try await first.engine.listContainers(labels: ["caas.dns=\(joined.clusterID)"])
            #expect(servers.count == 1, "one name server on \(first.node)")
            for server in servers { try await first.engine.removeContainer(server.id, force: true) }
            let removedAt = ContinuousClock.now
            let back = try await eventually(.seconds(20)) { try await answers(first, "mysql", db) }
            #expect(back, "names resolve again on \(first.node) once its name server is made again")
            print("names: a removed name server answered again after \(ContinuousClock.now - removedAt)")
        } catch {
            Issue.record(error)
        }
        await agent?.stop()
        await cp.stop()
    }

    /// A single container in an application of its own.
    static let loner = """
        services:
          loner:
            image: caas-test/busybox:latest
            command: ["sleep", "3600"]
            restart: always
        """

    /// Container start (create + start until the engine says running) on a node's caas network at a
    /// fixed address against host networking, on the same namespace engine, side by side.
    @Test(.enabled(if: NamespaceClusterTests.available, "needs root, ip, nsenter, iptables, dockerd and busybox"), .timeLimit(.minutes(2)))
    func startTimeWithAnAddressAgainstHostNetworking() async throws {
        let client = try HTTPClient()
        defer { client.shutdown() }
        let nodes = try await NamespaceCluster.start(name: "netbench", nodes: 1, client: client)
        defer { nodes.destroy() }
        let engine = EngineClient(transport: HTTPClientTransport(client: client, endpoint: nodes.nodes[0].engine.endpoint))
        let network = DesiredNodeNetwork(name: "caas-clu_bench", subnet: "198.18.9.0/24", gateway: "198.18.9.1")
        try await engine.createNetwork(NetworkCreateBody(name: network.name, subnet: network.subnet, gateway: network.gateway))
        var times: [DesiredNetwork: [Double]] = [:]
        let rounds = 8
        for round in 0..<rounds {
            for mode in [DesiredNetwork.host, .caas] {
                let desired = DesiredContainer(containerId: "ctr_b\(round)\(mode.rawValue)", tenantId: "ten_b", appId: "app_b", appName: "b",
                                               serviceName: "s", slot: round + 1, generation: 1, image: BusyboxImage.reference,
                                               command: ["sleep", "60"], network: mode, address: mode == .caas ? "198.18.9.\(10 + round)" : nil)
                let started = ContinuousClock.now
                let id = try await engine.createContainer(name: "bench-\(round)-\(mode.rawValue)",
                                                          body: ContainerCreateBody(desired, clusterId: "clu_bench", network: network))
                try await engine.startContainer(id)
                let elapsed = ContinuousClock.now - started
                times[mode, default: []].append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
                try await engine.removeContainer(id, force: true)
            }
        }
        func p50(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        let host = p50(times[.host]!), caas = p50(times[.caas]!)
        print("container create+start p50 over \(rounds): host network \(String(format: "%.0f", host)) ms, caas network \(String(format: "%.0f", caas)) ms, added \(String(format: "%.0f", caas - host)) ms")
        // Timings vary run to run: only a generous bound (the issue's target is ≤ 100 ms added).
        #expect(caas < host * 3 + 300, "host \(host) ms, caas \(caas) ms")
    }
}
