import CaaSAgent
import CaaSHTTP
import Foundation
import Synchronization

/// The engines of one test process, started once on first use: `nodes` simulated nodes, each a
/// private dockerd with the busybox test image. They stop when the process exits (and the
/// watchdog stops them if it dies); leftovers of killed earlier runs are cleaned first.
public actor EngineHarness {
    public static let shared = EngineHarness()

    public let client: HTTPClient
    private var engines: [String: PrivateEngine] = [:]
    private var starting: [String: Task<PrivateEngine, any Error>] = [:]
    private var tarPath: String?
    private var cleaned = false
    private var nextIndex = 0

    init() {
        // The client is built without TLS settings, which cannot fail.
        client = try! HTTPClient()
        atexit {
            EngineHarness.stopAllAtExit()
        }
    }

    private static var imageDirectory: String { "/tmp/caas-image-\(getpid())" }
    private static let running = Mutex<[PrivateEngine]>([])

    private static func stopAllAtExit() {
        let all = running.withLock { $0 }
        for engine in all { engine.destroy() }
        try? FileManager.default.removeItem(atPath: imageDirectory)
    }

    /// The engine called `name`, started (with the test image) if it is not running.
    /// With `tls`, the engine also listens on `tcp+tls://127.0.0.1:<port>` (`PrivateEngine.tls`);
    /// a name is started once, with the `tls` of its first call.
    public func engine(_ name: String, tls: Bool = false) async throws -> PrivateEngine {
        if let engine = engines[name], engine.isRunning { return engine }
        if let task = starting[name] { return try await task.value }
        if !cleaned {
            PrivateEngine.cleanUpLeftovers()
            cleaned = true
        }
        nextIndex += 1
        let index = nextIndex
        let client = client
        let tar = try tarFile()
        let task = Task { () throws -> PrivateEngine in
            let engine = try await PrivateEngine.start(name: name, index: index, client: client, tls: tls)
            Self.running.withLock { $0.append(engine) }
            try await BusyboxImage.install(into: EngineClient(transport: HTTPClientTransport(client: client, endpoint: engine.endpoint)), tar: tar)
            return engine
        }
        starting[name] = task
        defer { starting[name] = nil }
        let engine = try await task.value
        engines[name] = engine
        return engine
    }

    /// Several engines, started concurrently.
    public func engines(_ names: [String]) async throws -> [PrivateEngine] {
        try await withThrowingTaskGroup(of: (Int, PrivateEngine).self) { group in
            for (position, name) in names.enumerated() {
                group.addTask { (position, try await self.engine(name)) }
            }
            var result: [(Int, PrivateEngine)] = []
            for try await item in group { result.append(item) }
            return result.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    /// An engine client for a harness engine.
    public func engineClient(_ engine: PrivateEngine) -> EngineClient {
        EngineClient(transport: HTTPClientTransport(client: client, endpoint: engine.endpoint))
    }

    public var transportFactory: EngineTransportFactory { HTTPClientTransport.factory(client) }

    private func tarFile() throws -> String {
        if let tarPath { return tarPath }
        let directory = Self.imageDirectory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = try BusyboxImage.buildTar(in: directory)
        tarPath = path
        return path
    }
}
