@testable import CaaSDNS
import Foundation
import Glibc
import Synchronization
import Testing

/// The server on real loopback sockets: clients at 127.0.0.1 and 127.0.0.2 (two scopes), an
/// upstream the test plays, and the records file rewritten under it.
final class RunningNameServer: @unchecked Sendable {
    let server: DNSServer
    let directory: String
    let stop = Atomic<Bool>(false)
    let finished = DispatchSemaphore(value: 0)

    init(upstreams: [UDPAddress], timeoutMilliseconds: Int64 = 2000) throws {
        directory = NSTemporaryDirectory() + "caas-dns-test-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var configuration = DNSServer.Configuration(listen: UDPAddress(address: [127, 0, 0, 1], port: 0), recordsPath: directory + "/records",
                                                    upstreams: upstreams)
        configuration.upstreamTimeoutMilliseconds = timeoutMilliseconds
        configuration.reloadIntervalMilliseconds = 20
        server = try DNSServer(configuration)
        let thread = Thread { [self] in
            server.run { stop.load(ordering: .relaxed) }
            finished.signal()
        }
        thread.start()
    }

    var address: UDPAddress { server.address! }

    func write(_ text: String) throws {
        try text.write(toFile: directory + "/records", atomically: false, encoding: .utf8)
    }

    func shutdown() {
        stop.store(true, ordering: .relaxed)
        finished.wait()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

func receive(_ socket: UDPSocket, withinMilliseconds timeout: Int32 = 6000) -> (bytes: [UInt8], from: UDPAddress)? {
    var buffer = [UInt8](repeating: 0, count: 4096)
    var fd = pollfd(fd: socket.descriptor, events: Int16(POLLIN), revents: 0)
    guard poll(&fd, 1, timeout) == 1 else { return nil }
    return socket.receive(into: &buffer)
}

func ask(_ socket: UDPSocket, _ server: UDPAddress, _ name: String, id: UInt16 = 0x4242) -> DNSCodec.ParsedResponse? {
    socket.send(DNSCodec.query(id: id, DNSQuestion(labels: NameTable.labels(name), type: DNSType.a.rawValue)), to: server)
    guard let (bytes, _) = receive(socket) else { return nil }
    return try? DNSCodec.parseResponse(bytes)
}

func addresses(_ response: DNSCodec.ParsedResponse?) -> [String] {
    (response?.answers ?? []).compactMap { if case .a(let bytes) = $0.data { NameTable.format(bytes) } else { nil } }
}

@Suite(.serialized) struct DNSServerTests {
    @Test func answersItsClientsNamesFollowsTheRecordsFileAndForwardsTheRest() throws {
        let upstream = try UDPSocket(bindingTo: UDPAddress(address: [127, 0, 0, 1], port: 0))
        // Long enough for the test to answer as upstream on a loaded machine; short enough to wait out.
        let running = try RunningNameServer(upstreams: [upstream.localAddress()!], timeoutMilliseconds: 1500)
        defer { running.shutdown() }
        let web = try UDPSocket(bindingTo: UDPAddress(address: [127, 0, 0, 1], port: 0))
        let stranger = try UDPSocket(bindingTo: UDPAddress(address: [127, 0, 0, 2], port: 0))
        try running.write("client 127.0.0.1 app_1/web\nclient 127.0.0.2 app_2/web\na app_1/web db 10.0.0.5\nend\n")
        #expect(waitUntil { addresses(ask(web, running.address, "db")) == ["10.0.0.5"] }, "the client's own db")

        // (Until the records were read, web's own queries went upstream too: those are dropped.)
        while receive(upstream, withinMilliseconds: 200) != nil {}
        // Another application's client asking for that name is forwarded; upstream's answer is relayed with the client's id.
        stranger.send(DNSCodec.query(id: 0x0101, DNSQuestion(labels: ["db"], type: 1)), to: running.address)
        let forwarded = try #require(receive(upstream), "the query reached upstream")
        let upstreamQuery = try DNSCodec.parseQuery(forwarded.bytes)
        #expect(upstreamQuery.question?.name == "db")
        upstream.send(DNSCodec.response(to: upstreamQuery, code: .nameError, authoritative: false), to: forwarded.from)
        let relayed = try DNSCodec.parseResponse(try #require(receive(stranger)).bytes)
        #expect(relayed.id == 0x0101 && relayed.code == DNSResponseCode.nameError.rawValue, "NXDOMAIN for the other application's name")

        // A spoofed answer (wrong id) is ignored; an unanswered forward is SERVFAIL after the timeout.
        stranger.send(DNSCodec.query(id: 0x0202, DNSQuestion(labels: ["example", "com"], type: 1)), to: running.address)
        let second = try #require(receive(upstream))
        let spoof = DNSCodec.withID(DNSCodec.id(of: second.bytes)! &+ 1, DNSCodec.response(to: try DNSCodec.parseQuery(second.bytes), code: .noError))
        upstream.send(spoof, to: second.from)
        let failed = try DNSCodec.parseResponse(try #require(receive(stranger)).bytes)
        #expect(failed.id == 0x0202 && failed.code == DNSResponseCode.serverFailure.rawValue)

        // db replaced: the answer follows the file; a half-written file is not taken.
        try running.write("client 127.0.0.1 app_1/web\na app_1/web db 10.0.0.6 10.0.0.7\nend\n")
        #expect(waitUntil { Set(addresses(ask(web, running.address, "db"))) == ["10.0.0.6", "10.0.0.7"] })
        try running.write("client 127.0.0.1 app_1/web\na app_1/web db 10.0.0.9\n")
        Thread.sleep(forTimeInterval: 0.2)
        #expect(Set(addresses(ask(web, running.address, "db"))) == ["10.0.0.6", "10.0.0.7"])
    }

    @Test func withoutUpstreamsOtherNamesAreRefused() throws {
        let running = try RunningNameServer(upstreams: [])
        defer { running.shutdown() }
        try running.write("client 127.0.0.1 app_1/web\na app_1/web db 10.0.0.5\nend\n")
        let web = try UDPSocket(bindingTo: UDPAddress(address: [127, 0, 0, 1], port: 0))
        #expect(waitUntil { addresses(ask(web, running.address, "db")) == ["10.0.0.5"] })
        #expect(ask(web, running.address, "example.com")?.code == DNSResponseCode.refused.rawValue)
        // Garbage gets nothing or FORMERR; the server keeps serving.
        web.send([0, 1, 2], to: running.address)
        web.send(Array(repeating: 0xFF, count: 600), to: running.address)
        #expect(waitUntil { addresses(ask(web, running.address, "db", id: 9)) == ["10.0.0.5"] })
    }

    func waitUntil(_ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(3)
        while Date() < end {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return false
    }
}
