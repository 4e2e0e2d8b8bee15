import CaaSModel
import Testing

@Suite struct ResourceValueTests {
    @Test func networksParseStrictlyAndNameTheRealNetwork() {
        #expect(IPv4Network("10.42.0.0/16")?.description == "10.42.0.0/16")
        #expect(IPv4Network("0.0.0.0/0")?.size == 1 << 32)
        for bad in ["10.42.0.0", "10.42.0.0/33", "10.42.0/16", "10.042.0.0/16", "256.0.0.0/8", "10.42.0.0/+8", "a.b.c.d/8", "10.42.0.0/16/1"] {
            #expect(IPv4Network(bad) == nil, "\(bad)")
        }
        guard case .failure(let error) = IPv4Network.parse("10.42.3.1/16") else { Issue.record("accepted host bits"); return }
        #expect(error.description.contains("10.42.0.0/16"))
    }

    @Test func subnetsAreAlignedBlocksAndTheLowestFreeOneIsChosen() {
        let network = IPv4Network("10.42.0.0/16")!
        #expect(network.subnetCount(prefixLength: 24) == 256)
        #expect(network.subnet(0, prefixLength: 24)?.description == "10.42.0.0/24")
        #expect(network.subnet(255, prefixLength: 24)?.description == "10.42.255.0/24")
        #expect(network.subnet(256, prefixLength: 24) == nil)
        let used = [IPv4Network("10.42.0.0/24")!, IPv4Network("10.42.2.0/24")!]
        #expect(SubnetAllocator.firstFree(in: network, prefixLength: 24, used: used)?.description == "10.42.1.0/24")
        let small = IPv4Network("192.168.7.0/28")!
        let all = (0..<2).compactMap { small.subnet($0, prefixLength: 29) }
        #expect(SubnetAllocator.firstFree(in: small, prefixLength: 29, used: all) == nil)
        #expect(network.overlaps(IPv4Network("10.42.7.0/24")!))
        #expect(!network.overlaps(IPv4Network("10.43.0.0/16")!))
        #expect(SubnetAllocator.defaultNodePrefix(for: network) == 24)
        #expect(SubnetAllocator.defaultNodePrefix(for: IPv4Network("10.0.0.0/24")!) == 28)
        #expect(SubnetAllocator.problem(network: network, nodePrefix: 16) != nil)
        #expect(SubnetAllocator.problem(network: IPv4Network("10.0.0.0/8")!, nodePrefix: 30) != nil, "too many subnets")
    }

    @Test func engineEndpointsAreUnixSocketsOrTCPWithAPort() {
        #expect((try? EngineEndpoint.parse("unix:///var/run/docker.sock").get()) == .unix(path: "/var/run/docker.sock"))
        #expect((try? EngineEndpoint.parse("tcp://node-1.example:2376").get()) == .tcp(host: "node-1.example", port: 2376))
        #expect((try? EngineEndpoint.parse("tcp://[::1]:2375").get()) == .tcp(host: "::1", port: 2375))
        for bad in ["", "http://x:1", "unix://", "unix://rel/path", "unix:///a/../b", "tcp://h", "tcp://h:0", "tcp://h:70000",
                    "tcp://-h:1", "tcp://h h:1", "tcp://[zz]:1", "tcp://h:1x"] {
            #expect((try? EngineEndpoint.parse(bad).get()) == nil, "\(bad)")
        }
    }

    @Test func secretLookingNamesAreRecognised() {
        for name in ["DB_PASSWORD", "MYSQL_ROOT_PASSWORD", "api_key", "APIKEY", "GITHUB_TOKEN", "client-secret", "PASS", "SSH_PASSWD"] {
            #expect(SecretNames.isSecret(name), "\(name)")
        }
        for name in ["TAG", "LEVEL", "KEYBOARD_LAYOUT", "MONKEY_COUNT", "PASSAGE", "HOST"] {
            #expect(!SecretNames.isSecret(name), "\(name)")
        }
    }

    @Test func theLineDiffIsMinimalAndRenderedAsAUnifiedDiff() {
        let old = ["a", "b", "c", "a", "b", "b", "a"]
        let new = ["c", "b", "a", "b", "a", "c"]
        let script = TextDiff.lines(old, new)
        let edits = script.filter { if case .same = $0 { false } else { true } }.count
        #expect(edits == 5, "Myers' example has an edit distance of 5")
        var rebuilt: [String] = []
        var original: [String] = []
        for op in script {
            switch op {
            case .same(let l): rebuilt.append(l); original.append(l)
            case .added(let l): rebuilt.append(l)
            case .removed(let l): original.append(l)
            }
        }
        #expect(rebuilt == new && original == old)
        #expect(TextDiff.lines([], ["x"]) == [.added("x")])
        #expect(TextDiff.lines(["x"], []) == [.removed("x")])
        #expect(TextDiff.lines([], []).isEmpty)
        #expect(TextDiff.unified(old: "a\nb\n", new: "a\nb\n", oldName: "1", newName: "2").isEmpty)

        let before = (1...20).map { "line \($0)" }.joined(separator: "\n") + "\n"
        var lines = (1...20).map { "line \($0)" }
        lines[1] = "line two"
        lines[17] = "line eighteen"
        let after = lines.joined(separator: "\n") + "\n"
        let unified = TextDiff.unified(old: before, new: after, oldName: "v1", newName: "v2", context: 2)
        #expect(unified == """
            --- v1
            +++ v2
            @@ -1,4 +1,4 @@
             line 1
            -line 2
            +line two
             line 3
             line 4
            @@ -16,5 +16,5 @@
             line 16
             line 17
            -line 18
            +line eighteen
             line 19
             line 20

            """)
        let appended = TextDiff.unified(old: "", new: "x\n", oldName: "a", newName: "b")
        #expect(appended == "--- a\n+++ b\n@@ -0,0 +1,1 @@\n+x\n")
    }

    @Test func largeUnrelatedTextsFallBackWithoutExhaustingMemory() {
        let old = (0..<3000).map { "old \($0)" }
        let new = (0..<3000).map { "new \($0)" }
        let script = TextDiff.lines(old, new)
        #expect(script.count == 6000)
    }
}
