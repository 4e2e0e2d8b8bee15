import Synchronization

/// Idle keep-alive connections per endpoint: bounded, most recently used first, expired after
/// `idleTimeout`. Connections are closed outside the lock.
final class ClientConnectionPool: Sendable {
    private let maxIdlePerEndpoint: Int
    private let idleTimeout: Duration
    private let idle = Mutex<[HTTPClientEndpoint: [ClientConnection]]>([:])
    private let closed = Mutex(false)

    init(maxIdlePerEndpoint: Int, idleTimeout: Duration) {
        self.maxIdlePerEndpoint = maxIdlePerEndpoint
        self.idleTimeout = idleTimeout
    }

    /// A live idle connection to `endpoint`, if there is one.
    func take(_ endpoint: HTTPClientEndpoint) -> ClientConnection? {
        let now = ContinuousClock.now
        while true {
            var expired: [ClientConnection] = []
            let candidate: ClientConnection? = idle.withLock { table in
                var list = table[endpoint] ?? []
                expired = list.filter { $0.idleSince.duration(to: now) >= idleTimeout }
                list.removeAll { $0.idleSince.duration(to: now) >= idleTimeout }
                let last = list.popLast()
                table[endpoint] = list.isEmpty ? nil : list
                return last
            }
            expired.forEach { $0.close() }
            guard let candidate else { return nil }
            if candidate.looksReusable { return candidate }
            candidate.close()   // the server closed it while it idled
        }
    }

    /// Offers a connection back; closes it when the pool is full or shut down.
    func put(_ connection: ClientConnection) {
        connection.idleSince = .now
        let isClosed = closed.withLock { $0 }
        let evicted: ClientConnection? = isClosed ? connection : idle.withLock { table in
            var list = table[connection.endpoint] ?? []
            list.append(connection)
            let evicted = list.count > maxIdlePerEndpoint ? list.removeFirst() : nil
            table[connection.endpoint] = list
            return evicted
        }
        evicted?.close()
    }

    func idleCount(_ endpoint: HTTPClientEndpoint) -> Int {
        idle.withLock { $0[endpoint]?.count ?? 0 }
    }

    func shutdown() {
        closed.withLock { $0 = true }
        let all = idle.withLock { table in
            defer { table.removeAll() }
            return table.values.flatMap { $0 }
        }
        all.forEach { $0.close() }
    }
}
