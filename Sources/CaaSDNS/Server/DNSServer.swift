import Glibc

/// The name server of one node: answers its containers over UDP from the table at `recordsPath`
/// (read again whenever the file changes and is complete), forwards other names to `upstreams`
/// and relays their answers. One thread, one `poll` loop; nothing it receives can grow its memory
/// beyond `maxPending` forwarded queries.
public final class DNSServer {
    public struct Configuration: Sendable {
        public var listen: UDPAddress
        public var recordsPath: String
        /// Resolvers for names that are not the table's; empty: such names are refused.
        public var upstreams: [UDPAddress]
        /// A forwarded query unanswered this long gets SERVFAIL (an alias its CNAME alone).
        public var upstreamTimeoutMilliseconds: Int64 = 2000
        public var maxPending = 4096
        /// How often the records file is looked at.
        public var reloadIntervalMilliseconds: Int64 = 100

        public init(listen: UDPAddress, recordsPath: String, upstreams: [UDPAddress]) {
            self.listen = listen
            self.recordsPath = recordsPath
            self.upstreams = upstreams
        }
    }

    struct Pending {
        var client: UDPAddress
        var query: DNSQuery
        /// The CNAME answered first, for an alias's target lookup; nil: a plain forward.
        var cname: DNSRecord?
        var upstream: UDPAddress
        var deadline: Int64
    }

    public let configuration: Configuration
    let clients: UDPSocket
    let upstream: UDPSocket
    public private(set) var table = NameTable()
    var pending: [UInt16: Pending] = [:]
    var turn = 0
    var nextUpstream = 0
    var recordsStamp: (Int, Int, Int)?
    var nextReload: Int64 = 0
    var random = SystemRandomNumberGenerator()
    public private(set) var tableLoads = 0

    public init(_ configuration: Configuration) throws(UDPSocketError) {
        self.configuration = configuration
        clients = try UDPSocket(bindingTo: configuration.listen)
        upstream = try UDPSocket(bindingTo: UDPAddress(address: [0, 0, 0, 0], port: 0))
    }

    /// The address clients reach (its port, when `listen` asked for any).
    public var address: UDPAddress? { clients.localAddress() }

    /// Serves until `shouldStop` answers true (checked at least every 100 ms).
    public func run(shouldStop: () -> Bool = { false }) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        var fds = [pollfd(fd: clients.descriptor, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: upstream.descriptor, events: Int16(POLLIN), revents: 0)]
        while !shouldStop() {
            let now = Self.milliseconds()
            if now >= nextReload {
                reloadIfChanged()
                nextReload = now + configuration.reloadIntervalMilliseconds
            }
            expire(now: now)
            _ = poll(&fds, 2, 100)
            // Bounded turns per wake, so neither side starves the other.
            for _ in 0..<256 {
                guard let (bytes, from) = clients.receive(into: &buffer) else { break }
                handleClient(bytes, from: from)
            }
            for _ in 0..<256 {
                guard let (bytes, from) = upstream.receive(into: &buffer) else { break }
                handleUpstream(bytes, from: from)
            }
        }
    }

    /// Reads the records file again when its size or modification time changed; a file that is
    /// not complete (no closing `end`) keeps the table in use.
    public func reloadIfChanged() {
        var info = stat()
        guard stat(configuration.recordsPath, &info) == 0 else { return }
        let stamp = (Int(info.st_size), Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec))
        if let recordsStamp, recordsStamp == stamp { return }
        guard let text = Self.read(configuration.recordsPath, limit: 8 << 20), let parsed = NameTable.parse(text) else { return }
        recordsStamp = stamp
        table = parsed
        tableLoads += 1
    }

    func handleClient(_ bytes: [UInt8], from client: UDPAddress) {
        turn &+= 1
        switch NameService.decide(bytes, client: client.address, table: table, hasUpstream: !configuration.upstreams.isEmpty, turn: turn) {
        case .reply(let reply):
            clients.send(reply, to: client)
        case .drop:
            return
        case .forward(let query):
            send(upstreamQuery: DNSCodec.withID(0, bytes), for: Pending(client: client, query: query, cname: nil,
                                                                          upstream: configuration.upstreams[0], deadline: 0))
        case .resolveAlias(let query, let cname, let target):
            send(upstreamQuery: DNSCodec.query(id: 0, target), for: Pending(client: client, query: query, cname: cname,
                                                                             upstream: configuration.upstreams[0], deadline: 0))
        }
    }

    /// Sends `message` (its id replaced by a fresh one) to the next upstream in turn.
    func send(upstreamQuery message: [UInt8], for request: Pending) {
        guard pending.count < configuration.maxPending else {
            clients.send(request.cname.map { NameService.aliasReply(request.query, cname: $0, upstream: nil) }
                         ?? NameService.upstreamFailed(request.query), to: request.client)
            return
        }
        var id = UInt16.random(in: .min ... .max, using: &random)
        while pending[id] != nil { id = UInt16.random(in: .min ... .max, using: &random) }
        var request = request
        request.upstream = configuration.upstreams[nextUpstream % configuration.upstreams.count]
        nextUpstream &+= 1
        request.deadline = Self.milliseconds() + configuration.upstreamTimeoutMilliseconds
        pending[id] = request
        upstream.send(DNSCodec.withID(id, message), to: request.upstream)
    }

    func handleUpstream(_ bytes: [UInt8], from: UDPAddress) {
        guard let id = DNSCodec.id(of: bytes), let request = pending[id], request.upstream == from, bytes[2] & 0x80 != 0 else { return }
        pending[id] = nil
        if let cname = request.cname {
            clients.send(NameService.aliasReply(request.query, cname: cname, upstream: try? DNSCodec.parseResponse(bytes)), to: request.client)
        } else {
            clients.send(DNSCodec.withID(request.query.id, bytes), to: request.client)
        }
    }

    func expire(now: Int64) {
        for (id, request) in pending where request.deadline <= now {
            pending[id] = nil
            clients.send(request.cname.map { NameService.aliasReply(request.query, cname: $0, upstream: nil) }
                         ?? NameService.upstreamFailed(request.query), to: request.client)
        }
    }

    // MARK: System

    static func milliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    /// A whole file's text, or nil when it cannot be read or is longer than `limit`.
    public static func read(_ path: String, limit: Int) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { break }
            bytes += chunk[0..<count]
            guard bytes.count <= limit else { return nil }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The IPv4 `nameserver`s of a resolv.conf text (port 53).
    public static func nameservers(resolvConf text: String) -> [UDPAddress] {
        text.split(separator: "\n").compactMap { line -> UDPAddress? in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, fields[0] == "nameserver" else { return nil }
            return UDPAddress(String(fields[1]), defaultPort: 53)
        }
    }
}
