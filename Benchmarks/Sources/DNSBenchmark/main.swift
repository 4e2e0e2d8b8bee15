import CaaSDNS
import Foundation
import Synchronization

// The nodes' name server (caas-dns's DNSServer) on loopback, as a node's containers use it:
// the records of a cluster of 1000 containers, queries for a service of the client's own
// application (3 replicas) from a client the table knows.
//
// Two measures, in one run:
//   latency:    one query in flight at a time: p50, p99, p99.9 of the round trip;
//   throughput: `window` queries in flight: answers per second.
// Targets (issue 15): ≥ 20,000 queries/s, p99 ≤ 2 ms.
//
//   cd Benchmarks && swift run -c release DNSBenchmark [seconds] [window]

final class Stop: Sendable {
    let flag = Atomic<Bool>(false)
    var stopped: Bool { flag.load(ordering: .relaxed) }
    func set() { flag.store(true, ordering: .relaxed) }
}

/// The server, handed to the thread that runs it (and used by no other).
final class Owned: @unchecked Sendable {
    let server: DNSServer
    init(_ server: DNSServer) { self.server = server }
}

func benchmark() throws {
    let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
    let seconds = arguments.first ?? 5
    let window = arguments.dropFirst().first ?? 32

    let directory = NSTemporaryDirectory() + "caas-dns-bench-\(getpid())"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    var table = NameTable()
    for app in 0..<100 {
        for service in 0..<5 {
            for replica in 0..<2 { table.addClient("10.1.\(app).\(service * 10 + replica + 2)", scope: "app_\(app)/s\(service)") }
            for other in 0..<5 {
                table.addAddresses((0..<3).map { "10.2.\(app).\(other * 10 + $0 + 2)" }, name: "s\(other)", scope: "app_\(app)/s\(service)")
            }
        }
    }
    table.addClient("127.0.0.1", scope: "app_0/s0")
    try table.rendered().write(toFile: directory + "/records", atomically: true, encoding: .utf8)

    let server = try DNSServer(DNSServer.Configuration(listen: UDPAddress(address: [127, 0, 0, 1], port: 0),
                                                       recordsPath: directory + "/records", upstreams: []))
    let address = server.address!
    let stop = Stop()
    let owned = Owned(server)
    let serverThread = Thread { owned.server.run { stop.stopped } }
    serverThread.start()

    let client = try UDPSocket(bindingTo: UDPAddress(address: [127, 0, 0, 1], port: 0))
    var buffer = [UInt8](repeating: 0, count: 4096)
    func waitForAnswer(timeout: Int32) -> [UInt8]? {
        var fd = pollfd(fd: client.descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&fd, 1, timeout) == 1 else { return nil }
        return client.receive(into: &buffer)?.bytes
    }
    func query(_ id: UInt16) -> [UInt8] {
        DNSCodec.query(id: id, DNSQuestion(labels: ["s\(Int(id) % 5)"], type: DNSType.a.rawValue))
    }
    // Until the records are loaded.
    while true {
        client.send(query(1), to: address)
        if let answer = waitForAnswer(timeout: 200), let parsed = try? DNSCodec.parseResponse(answer), parsed.answers.count == 3 { break }
    }

    // Latency: one in flight.
    var samples: [Double] = []
    var id: UInt16 = 0
    let latencyEnd = Date().addingTimeInterval(Double(seconds))
    while Date() < latencyEnd {
        id &+= 1
        let start = DispatchTime.now().uptimeNanoseconds
        client.send(query(id), to: address)
        guard let answer = waitForAnswer(timeout: 1000), DNSCodec.id(of: answer) == id else { continue }
        samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1000)
    }
    samples.sort()
    func percentile(_ p: Double) -> Double { samples.isEmpty ? .nan : samples[min(samples.count - 1, Int(Double(samples.count) * p))] }

    // Throughput: `window` in flight.
    var answered = 0, inFlight = 0, lost = 0
    let throughputStart = Date()
    let throughputEnd = throughputStart.addingTimeInterval(Double(seconds))
    while Date() < throughputEnd {
        while inFlight < window {
            id &+= 1
            client.send(query(id), to: address)
            inFlight += 1
        }
        if let answer = waitForAnswer(timeout: 100) {
            if let parsed = try? DNSCodec.parseResponse(answer), parsed.answers.count == 3 { answered += 1 }
            inFlight -= 1
        } else {
            lost += inFlight
            inFlight = 0
        }
    }
    let elapsed = Date().timeIntervalSince(throughputStart)
    stop.set()

    print(String(format: "dns latency (1 in flight, %d queries): p50 %.0f µs, p99 %.0f µs, p99.9 %.0f µs", samples.count,
                 percentile(0.5), percentile(0.99), percentile(0.999)))
    print(String(format: "dns throughput (%d in flight): %.0f answers/s, %d lost", window, Double(answered) / elapsed, lost))
    print("targets: >= 20000 answers/s, p99 <= 2000 µs")

}

try benchmark()
