@testable import CaaSDNS
import Testing

@Suite struct NameServiceTests {
    static let web: [UInt8] = [198, 18, 64, 3]
    static let stranger: [UInt8] = [198, 18, 64, 9]

    static var table: NameTable {
        var table = NameTable()
        table.addClient("198.18.64.3", scope: "app_1/wordpress")
        table.addClient("198.18.64.9", scope: "app_2/wordpress")
        table.addAddresses(["198.18.64.5", "198.18.65.7"], name: "db", scope: "app_1/wordpress")
        table.addAddresses(["198.18.64.5", "198.18.65.7"], name: "mysql", scope: "app_1/wordpress")
        table.addAddresses([], name: "cache", scope: "app_1/wordpress")
        table.addAlias("rds-1.Example.com.", name: "rds", scope: "app_1/wordpress")
        table.addAlias("10.1.2.3", name: "legacy", scope: "app_1/wordpress")
        return table
    }

    func ask(_ name: String, _ type: DNSType = .a, from client: [UInt8] = web, upstream: Bool = true, turn: Int = 0) -> NameService.Decision {
        let question = DNSQuestion(labels: NameTable.labels(name), type: type.rawValue)
        return NameService.decide(DNSCodec.query(id: 0x1234, question), client: client, table: Self.table, hasUpstream: upstream, turn: turn)
    }

    func reply(_ decision: NameService.Decision) throws -> DNSCodec.ParsedResponse {
        guard case .reply(let bytes) = decision else { Issue.record("not a reply: \(decision)"); throw DNSCodec.Malformed(reason: "no reply") }
        return try DNSCodec.parseResponse(bytes)
    }

    func addresses(_ response: DNSCodec.ParsedResponse) -> [String] {
        response.answers.compactMap { if case .a(let bytes) = $0.data { NameTable.format(bytes) } else { nil } }
    }

    @Test func aServiceNameAnswersItsAddressesRotatedCaseInsensitively() throws {
        let first = try reply(ask("db"))
        #expect(first.id == 0x1234 && first.code == 0)
        #expect(addresses(first) == ["198.18.64.5", "198.18.65.7"])
        #expect(addresses(try reply(ask("DB", turn: 1))) == ["198.18.65.7", "198.18.64.5"], "the next client gets the other replica first")
        #expect(addresses(try reply(ask("mysql"))) == ["198.18.64.5", "198.18.65.7"], "a links alias")
        #expect(try reply(ask("db")).answers.allSatisfy { $0.ttl == 0 && $0.labels == ["db"] })
    }

    @Test func otherTypesAndNamesWithoutServingContainersGetAnEmptyAnswer() throws {
        let aaaa = try reply(ask("db", .aaaa))
        #expect(aaaa.code == 0 && aaaa.answers.isEmpty, "NODATA: the name is ours, it has no IPv6 address")
        let cache = try reply(ask("cache"))
        #expect(cache.code == 0 && cache.answers.isEmpty)
    }

    @Test func anotherScopesNamesAndOutsideNamesAreForwardedOrRefused() throws {
        guard case .forward(let query) = ask("db", from: Self.stranger) else { Issue.record("another application's db is not answered"); return }
        #expect(query.id == 0x1234 && query.question?.name == "db")
        guard case .forward = ask("example.com") else { Issue.record("outside names go upstream"); return }
        guard case .forward = ask("db", from: [198, 18, 64, 77]) else { Issue.record("an unknown client gets no names"); return }
        #expect(try reply(ask("example.com", upstream: false)).code == DNSResponseCode.refused.rawValue)
    }

    @Test func anAliasAnswersItsCnameAndAsksForTheTarget() throws {
        guard case .resolveAlias(let query, let cname, let target) = ask("rds") else { Issue.record("not an alias"); return }
        #expect(cname.data == .cname(["rds-1", "example", "com"]))
        #expect(target == DNSQuestion(labels: ["rds-1", "example", "com"], type: DNSType.a.rawValue))
        let upstream = DNSCodec.ParsedResponse(id: 9, code: 0, answers: [DNSRecord(labels: ["rds-1", "example", "com"], ttl: 60, data: .a([10, 9, 8, 7]))])
        let answer = try DNSCodec.parseResponse(NameService.aliasReply(query, cname: cname, upstream: upstream))
        #expect(answer.id == 0x1234 && answer.answers.count == 2 && addresses(answer) == ["10.9.8.7"])
        let alone = try DNSCodec.parseResponse(NameService.aliasReply(query, cname: cname, upstream: nil))
        #expect(alone.answers == [cname], "upstream silent: the CNAME alone")
        #expect(try reply(ask("rds", upstream: false)).answers == [cname])
        #expect(addresses(try reply(ask("legacy"))) == ["10.1.2.3"], "an external service given as an address")
    }

    @Test func malformedDatagramsGetFormErrOrNothing() throws {
        guard case .drop = NameService.decide([1, 2, 3], client: Self.web, table: Self.table, hasUpstream: true) else {
            Issue.record("too short for an id"); return
        }
        var truncated = DNSCodec.query(id: 7, DNSQuestion(labels: ["db"], type: 1))
        truncated.removeLast(3)
        #expect(try reply(NameService.decide(truncated, client: Self.web, table: Self.table, hasUpstream: true)).code == DNSResponseCode.formatError.rawValue)
        var response = DNSCodec.query(id: 7, DNSQuestion(labels: ["db"], type: 1))
        response[2] |= 0x80
        guard case .drop = NameService.decide(response, client: Self.web, table: Self.table, hasUpstream: true) else {
            Issue.record("a response is never answered (no reflection loops)"); return
        }
        var notify = DNSCodec.query(id: 7, DNSQuestion(labels: ["db"], type: 1))
        notify[2] |= 4 << 3
        #expect(try reply(NameService.decide(notify, client: Self.web, table: Self.table, hasUpstream: true)).code == DNSResponseCode.notImplemented.rawValue)
        // A compression loop in the question.
        var loop: [UInt8] = [0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]
        loop += [0xC0, 12, 0, 1, 0, 1]
        #expect(try reply(NameService.decide(loop, client: Self.web, table: Self.table, hasUpstream: true)).code == DNSResponseCode.formatError.rawValue)
    }

    @Test func manyReplicasAnswerWhatFitsInOneDatagram() throws {
        var table = NameTable()
        table.addClient("198.18.64.3", scope: "s")
        table.addAddresses((1...200).map { "10.0.\($0 / 250).\($0 % 250)" }, name: "web", scope: "s")
        guard case .reply(let bytes) = NameService.decide(DNSCodec.query(id: 1, DNSQuestion(labels: ["web"], type: 1)), client: Self.web,
                                                            table: table, hasUpstream: false) else { Issue.record("no reply"); return }
        #expect(bytes.count <= NameService.maxReplyBytes)
        #expect(try DNSCodec.parseResponse(bytes).answers.count > 20)
    }

    @Test func theTableTextRoundTripsAndAHalfWrittenOneIsNotTaken() throws {
        let text = Self.table.rendered()
        #expect(NameTable.parse(text) == Self.table)
        #expect(NameTable.parse(String(text.dropLast(4))) == nil, "no closing end")
        #expect(NameTable.parse(text + "client 1.2.3.4 x\n") == nil, "nothing after end")
        #expect(text.contains("cname app_1/wordpress rds rds-1.example.com\n"))
    }

    @Test func resolvConfNameservers() {
        let text = "# generated\nsearch example.com\nnameserver 127.0.0.11\nnameserver ::1\nnameserver\t10.0.0.2\noptions ndots:0\n"
        #expect(DNSServer.nameservers(resolvConf: text) == [UDPAddress(address: [127, 0, 0, 11], port: 53), UDPAddress(address: [10, 0, 0, 2], port: 53)])
    }
}
