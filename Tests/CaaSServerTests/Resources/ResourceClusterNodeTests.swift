import CaaSModel
@testable import CaaSServer
import Foundation
import Testing

@Suite struct ResourceClusterNodeTests {
    @Test func clusterCreationShowsTheJoinTokenOnceAndStoresOnlyItsDigest() async throws {
        let api = try await APIHarness.make("res_cluster_create")
        let a = try await api.makeTenant("alpha")
        let admin = a.tokens["admin"]!
        let created = try await api.call("POST", "/v1/clusters", token: admin, body: #"{"name":"prod","labels":{"env":"prod"}}"#,
                                         headers: ["Idempotency-Key": "cluster-1"])
        #expect(created.status == 201, "\(created.text)")
        let id = try #require(created["id"]?.stringValue)
        #expect(id.hasPrefix("clu_"))
        #expect(created.header("Location") == "/v1/clusters/\(id)")
        #expect(created.header("ETag") == "\"1\"")
        #expect(created.header("Cache-Control") == "no-store")
        #expect(created["network_cidr"]?.stringValue == "10.42.0.0/16")
        #expect(created["node_subnet_prefix"]?.integerValue == 24)
        #expect(created["status"]?.stringValue == "pending")
        #expect(created["labels"]?["env"]?.stringValue == "prod")
        let token = try #require(created["join_token"]?.stringValue)
        #expect(token.hasPrefix("caas_join_"))
        #expect(token.count >= "caas_join_".count + 52, "at least 256 bits of base32")

        // Shown once: not in reads, not in an idempotent replay.
        let read = try await api.call("GET", "/v1/clusters/\(id)", token: a.tokens["viewer"])
        #expect(read.status == 200)
        #expect(read["join_token"] == nil)
        let replay = try await api.call("POST", "/v1/clusters", token: admin, body: #"{"name":"prod","labels":{"env":"prod"}}"#,
                                        headers: ["Idempotency-Key": "cluster-1"])
        #expect(replay.status == 201)
        #expect(replay.header("Idempotent-Replayed") == "true")
        #expect(replay["id"]?.stringValue == id)
        #expect(replay["join_token"] == nil)
        let list = try await api.call("GET", "/v1/clusters", token: admin)
        #expect(list.items.count == 1, "the replay created nothing")

        // Only the digest is stored.
        let digest = try await api.raw { try $0.query("SELECT encode(join_token_digest, 'hex') AS d FROM clusters")[0].decode("d", as: String.self) }
        #expect(digest == JoinToken.digestHex(token))
        let stored = try await api.raw { try $0.query("SELECT row_to_json(c)::text AS r FROM clusters c")[0].decode("r", as: String.self) }
        #expect(!stored.contains(token))

        // Rotation: a new token, a new digest, a new version.
        let rotated = try await api.call("POST", "/v1/clusters/\(id)/join-token", token: admin)
        #expect(rotated.status == 200, "\(rotated.text)")
        let second = try #require(rotated["join_token"]?.stringValue)
        #expect(second != token && second.hasPrefix("caas_join_"))
        #expect(rotated["version"]?.integerValue == 2)
        let operatorTry = try await api.call("POST", "/v1/clusters/\(id)/join-token", token: a.tokens["operator"])
        #expect(operatorTry.status == 403)
        let events = try await api.call("GET", "/v1/events?after=0", token: admin)
        let types = events.items.compactMap { $0["type"]?.stringValue }
        #expect(types.contains("cluster.created") && types.contains("cluster.join_token_rotated"), "\(types)")
    }

    @Test func clusterNamesAndNetworksAreValidated() async throws {
        let api = try await APIHarness.make("res_cluster_validation")
        let a = try await api.makeTenant("alpha")
        let admin = a.tokens["admin"]!
        let cases: [(String, String)] = [
            (#"{"name":"Prod"}"#, "/name"),
            (#"{"name":"-prod"}"#, "/name"),
            (#"{"name":"\#(String(repeating: "a", count: 64))"}"#, "/name"),
            (#"{"name":"p","network_cidr":"10.42.0.0"}"#, "/network_cidr"),
            (#"{"name":"p","network_cidr":"10.300.0.0/16"}"#, "/network_cidr"),
            (#"{"name":"p","network_cidr":"fd00::/64"}"#, "/network_cidr"),
            (#"{"name":"p","network_cidr":"10.0.0.0/30"}"#, "/network_cidr"),
            (#"{"name":"p","labels":{"a":1}}"#, "/labels/a"),
            (#"{"name":"p","colour":"red"}"#, "/colour"),
        ]
        for (body, pointer) in cases {
            let reply = try await api.call("POST", "/v1/clusters", token: admin, body: body)
            #expect(reply.status == 400, "\(body): \(reply.text)")
            #expect(reply.pointers.contains(pointer), "\(body) should name \(pointer): \(reply.text)")
        }
        // Well-formed values that do not fit together (host bits set, a node subnet no longer than
        // the network) are 422, still naming the member.
        for (body, pointer) in [(#"{"name":"p","network_cidr":"10.42.0.1/16"}"#, "/network_cidr"),
                                (#"{"name":"p","network_cidr":"10.42.0.0/16","node_subnet_prefix":16}"#, "/node_subnet_prefix"),
                                // Node subnets of four addresses hold no container beside the gateway and the name server.
                                (#"{"name":"p","network_cidr":"10.42.0.0/16","node_subnet_prefix":30,"networking":"node_subnets"}"#, "/node_subnet_prefix")] {
            let reply = try await api.call("POST", "/v1/clusters", token: admin, body: body)
            #expect(reply.status == 422, "\(body): \(reply.text)")
            #expect(reply.pointers.contains(pointer), "\(body) should name \(pointer): \(reply.text)")
        }
        let custom = try await api.createCluster(admin, name: "edge", extra: #","network_cidr":"172.20.0.0/20","node_subnet_prefix":26"#)
        #expect(custom.status == 201, "\(custom.text)")
        #expect(custom["network_cidr"]?.stringValue == "172.20.0.0/20")
        let duplicate = try await api.createCluster(admin, name: "edge")
        #expect(duplicate.status == 409, "\(duplicate.text)")
        #expect((try await api.call("GET", "/v1/clusters", token: admin)).items.count == 1)
    }

    @Test func clusterPatchMergesAndChecksIfMatch() async throws {
        let api = try await APIHarness.make("res_cluster_patch")
        let a = try await api.makeTenant("alpha")
        let admin = a.tokens["admin"]!
        let id = try #require(try await api.createCluster(admin, name: "prod", extra: #","labels":{"env":"prod","team":"a"}"#)["id"]?.stringValue)
        let patched = try await api.call("PATCH", "/v1/clusters/\(id)", token: admin,
                                         body: #"{"description":"main","labels":{"team":null,"az":"2"}}"#, headers: ["If-Match": "\"1\""])
        #expect(patched.status == 200, "\(patched.text)")
        #expect(patched["description"]?.stringValue == "main")
        #expect(patched["labels"] == .object(["env": .string("prod"), "az": .string("2")]))
        #expect(patched.header("ETag") == "\"2\"")
        let stale = try await api.call("PATCH", "/v1/clusters/\(id)", token: admin, body: #"{"description":"x"}"#, headers: ["If-Match": "\"1\""])
        #expect(stale.status == 412)
        #expect(stale.header("ETag") == "\"2\"")
        let staleDelete = try await api.call("DELETE", "/v1/clusters/\(id)", token: admin, headers: ["If-Match": "\"1\""])
        #expect(staleDelete.status == 412)
        let b = try await api.makeTenant("beta")
        #expect((try await api.call("GET", "/v1/clusters/\(id)", token: b.tokens["admin"])).status == 404)
        #expect((try await api.call("DELETE", "/v1/clusters/\(id)", token: b.tokens["admin"])).status == 404)
        #expect((try await api.call("GET", "/v1/clusters", token: b.tokens["admin"])).items.isEmpty)
        let deleted = try await api.call("DELETE", "/v1/clusters/\(id)", token: admin, headers: ["If-Match": "\"2\""])
        #expect(deleted.status == 204, "\(deleted.text)")
        #expect((try await api.call("GET", "/v1/clusters/\(id)", token: admin)).status == 404)
    }

    @Test func nodesGetConsecutiveSubnetsAndFreedSubnetsAreReused() async throws {
        let api = try await APIHarness.make("res_node_ipam")
        let a = try await api.makeTenant("alpha")
        let admin = a.tokens["admin"]!
        let cluster = try #require(try await api.createCluster(admin, name: "prod")["id"]?.stringValue)
        var ids: [String] = []
        for index in 0..<3 {
            let node = try await api.createNode(admin, cluster: cluster, name: "node-\(index)", labels: #"{"az":"\#(index % 2 + 1)"}"#)
            #expect(node.status == 201, "\(node.text)")
            #expect(node["subnet"]?.stringValue == "10.42.\(index).0/24")
            #expect(node["status"]?.stringValue == "ready")
            #expect(node["capacity"]?["memory_bytes"]?.integerValue == 4_294_967_296)
            #expect(node.header("Location") == "/v1/nodes/\(node["id"]!.stringValue!)")
            ids.append(node["id"]!.stringValue!)
        }
        let removed = try await api.call("DELETE", "/v1/nodes/\(ids[1])", token: admin)
        #expect(removed.status == 204, "\(removed.text)")
        let next = try await api.createNode(admin, cluster: cluster, name: "node-3")
        #expect(next["subnet"]?.stringValue == "10.42.1.0/24", "the freed subnet is reused: \(next.text)")
        let inCluster = try await api.call("GET", "/v1/clusters/\(cluster)/nodes?label=az%3D1", token: a.tokens["viewer"])
        #expect(inCluster.status == 200, "\(inCluster.text)")
        #expect(Set(inCluster.items.compactMap { $0["name"]?.stringValue }) == ["node-0", "node-2"])
        let all = try await api.call("GET", "/v1/nodes?cluster_id=\(cluster)&limit=2", token: admin)
        #expect(all.items.count == 2)
        let cursor = try #require(all["next_cursor"]?.stringValue)
        let rest = try await api.call("GET", "/v1/nodes?cluster_id=\(cluster)&limit=2&cursor=\(cursor)", token: admin)
        #expect(rest.items.count == 1)
        #expect(rest["next_cursor"] == .null)
        let duplicate = try await api.createNode(admin, cluster: cluster, name: "node-0")
        #expect(duplicate.status == 409)
        // A small network runs out, and says so.
        let tiny = try #require(try await api.createCluster(admin, name: "tiny", extra: #","network_cidr":"192.168.7.0/28","node_subnet_prefix":29"#)["id"]?.stringValue)
        #expect((try await api.createNode(admin, cluster: tiny, name: "t1"))["subnet"]?.stringValue == "192.168.7.0/29")
        #expect((try await api.createNode(admin, cluster: tiny, name: "t2"))["subnet"]?.stringValue == "192.168.7.8/29")
        let full = try await api.createNode(admin, cluster: tiny, name: "t3")
        #expect(full.status == 409)
        #expect(full["detail"]?.stringValue?.contains("no free /29") == true, "\(full.text)")
    }

    @Test func concurrentNodeCreationNeverOverlapsSubnets() async throws {
        let api = try await APIHarness.make("res_node_concurrent")
        let a = try await api.makeTenant("alpha")
        let admin = a.tokens["admin"]!
        let cluster = try #require(try await api.createCluster(admin, name: "prod")["id"]?.stringValue)
        let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
            for index in 0..<16 {
                group.addTask { try await api.createNode(admin, cluster: cluster, name: "n\(index)") }
            }
            return try await group.reduce(into: [Reply]()) { $0.append($1) }
        }
        #expect(replies.allSatisfy { $0.status == 201 }, "\(replies.filter { $0.status != 201 }.map(\.text))")
        let subnets = replies.compactMap { $0["subnet"]?.stringValue }
        #expect(Set(subnets).count == 16)
        #expect(Set(subnets) == Set((0..<16).map { "10.42.\($0).0/24" }))
        let overlaps = try await api.raw {
            try $0.query("SELECT count(*)::int8 AS n FROM nodes x JOIN nodes y ON x.id < y.id AND x.subnet && y.subnet")[0].decode("n", as: Int.self)
        }
        #expect(overlaps == 0)
    }

    @Test func nodeEndpointsAreValidated() async throws {
        let api = try await APIHarness.make("res_node_validation")
        let a = try await api.makeTenant("alpha")
        let admin = a.tokens["admin"]!
        let cluster = try #require(try await api.createCluster(admin, name: "prod")["id"]?.stringValue)
        let bad: [(String, String)] = [
            (#""engine_endpoint":"ftp://x:21""#, "/engine_endpoint"),
            (#""engine_endpoint":"tcp://host""#, "/engine_endpoint"),
            (#""engine_endpoint":"tcp://host:99999""#, "/engine_endpoint"),
            (#""engine_endpoint":"unix://relative.sock""#, "/engine_endpoint"),
            (#""engine_endpoint":"tcp://bad host:2376""#, "/engine_endpoint"),
            (#""engine_endpoint":"unix:///run/d.sock","capacity":{"cpus":"many"}"#, "/capacity/cpus"),
            (#""engine_endpoint":"unix:///run/d.sock","capacity":{"memory_bytes":-1}"#, "/capacity/memory_bytes"),
        ]
        for (fields, pointer) in bad {
            let reply = try await api.call("POST", "/v1/clusters/\(cluster)/nodes", token: admin, body: #"{"name":"n",\#(fields)}"#)
            #expect(reply.status == 400, "\(fields): \(reply.text)")
            #expect(reply.pointers.contains(pointer), "\(fields): \(reply.text)")
        }
        let good = try await api.call("POST", "/v1/clusters/\(cluster)/nodes", token: admin,
                                      body: #"{"name":"n","engine_endpoint":"tcp://127.0.0.1:2376","engine_tls":true,"capacity":{"cpus":1.5}}"#)
        #expect(good.status == 201, "\(good.text)")
        #expect(good["capacity"]?["cpus"] == .number(1.5))
        let v6 = try await api.call("POST", "/v1/clusters/\(cluster)/nodes", token: admin, body: #"{"name":"n6","engine_endpoint":"tcp://[::1]:2375"}"#)
        #expect(v6.status == 201, "\(v6.text)")
        #expect((try await api.call("POST", "/v1/clusters/\(cluster)/nodes", token: a.tokens["operator"],
                                    body: #"{"name":"n7","engine_endpoint":"tcp://[::1]:2375"}"#)).status == 403)
    }

    @Test func nodeActionsChangeStatusAndDeleteRefusesAssignedContainers() async throws {
        let api = try await APIHarness.make("res_node_actions")
        let a = try await api.makeTenant("alpha")
        let admin = a.tokens["admin"]!, operatorToken = a.tokens["operator"]!
        let cluster = try #require(try await api.createCluster(admin, name: "prod")["id"]?.stringValue)
        let node = try #require(try await api.createNode(admin, cluster: cluster, name: "n1")["id"]?.stringValue)
        for (action, status) in [("drain", "draining"), ("pause", "paused"), ("activate", "ready")] {
            let reply = try await api.call("POST", "/v1/nodes/\(node)/\(action)", token: operatorToken)
            #expect(reply.status == 200, "\(action): \(reply.text)")
            #expect(reply["status"]?.stringValue == status)
        }
        #expect((try await api.call("POST", "/v1/nodes/\(node)/drain", token: a.tokens["viewer"])).status == 403)
        let stale = try await api.call("POST", "/v1/nodes/\(node)/drain", token: operatorToken, headers: ["If-Match": "\"1\""])
        #expect(stale.status == 412)
        let patched = try await api.call("PATCH", "/v1/nodes/\(node)", token: admin, body: #"{"labels":{"az":"3"},"capacity":{"cpus":8}}"#)
        #expect(patched.status == 200, "\(patched.text)")
        #expect(patched["labels"]?["az"]?.stringValue == "3")
        #expect(patched["capacity"]?["cpus"] == .number(8))

        // A container assigned to the node (as the scheduler will write it) blocks deletion.
        let template = try #require(try await api.createTemplate(admin, name: "web", compose: "services:\n  web:\n    image: nginx\n")["id"]?.stringValue)
        let app = try await api.deploy(admin, name: "web", cluster: cluster, source: #""template_id":"\#(template)""#)
        let service = try #require(try await api.call("GET", "/v1/apps/\(app["id"]!.stringValue!)/services", token: admin).items.first?["id"]?.stringValue)
        let quotas = api.plane.settings.quotaDefaults
        let containerID = Identifier.make(.container)
        _ = try await api.plane.store.transaction(.init(tenantID: a.id)) { tx in
            try tx.createContainer(.init(id: containerID, serviceID: service, nodeID: node, slot: 0, generation: 1), quotas: quotas)
        }
        let refused = try await api.call("DELETE", "/v1/nodes/\(node)", token: admin)
        #expect(refused.status == 409, "\(refused.text)")
        #expect(refused["detail"]?.stringValue?.contains("1 container") == true)
        let forced = try await api.call("DELETE", "/v1/nodes/\(node)?force=true", token: admin)
        #expect(forced.status == 204, "\(forced.text)")
        let container = try await api.call("GET", "/v1/containers/\(containerID)", token: admin)
        #expect(container["desired_state"]?.stringValue == "removed")
        #expect(container["node_id"] == .null)
    }

    @Test func clusterAndNodeQuotasAreEnforced() async throws {
        let api = try await APIHarness.make("res_quotas")
        let a = try await api.makeTenant("alpha")
        let admin = a.tokens["admin"]!
        let set = try await api.call("PATCH", "/v1/tenants/\(a.id)", token: api.systemToken, body: #"{"quotas":{"clusters":1,"nodes":2,"applications":1}}"#)
        #expect(set.status == 200, "\(set.text)")
        let cluster = try #require(try await api.createCluster(admin, name: "one")["id"]?.stringValue)
        let second = try await api.createCluster(admin, name: "two")
        #expect(second.status == 409)
        #expect(second["quota"]?.stringValue == "clusters")
        #expect((try await api.createNode(admin, cluster: cluster, name: "n1")).status == 201)
        #expect((try await api.createNode(admin, cluster: cluster, name: "n2")).status == 201)
        let third = try await api.createNode(admin, cluster: cluster, name: "n3")
        #expect(third.status == 409)
        #expect(third["quota"]?.stringValue == "nodes")
        #expect((try await api.deploy(admin, name: "a1", cluster: cluster, source: #""image":"nginx:1""#)).status == 202)
        let app2 = try await api.deploy(admin, name: "a2", cluster: cluster, source: #""image":"nginx:1""#)
        #expect(app2.status == 409)
        #expect(app2["quota"]?.stringValue == "applications")
        let usage = try await api.call("GET", "/v1/tenant", token: admin)
        #expect(usage["quota_usage"]?["nodes"]?.integerValue == 2)
        #expect(usage["quota_usage"]?["applications"]?.integerValue == 1)
    }
}
