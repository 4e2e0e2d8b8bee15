import CaaSHTTP
import Foundation

/// A typed client of the Docker Engine API (v1.41 subset) over any `EngineTransport`.
public struct EngineClient: Sendable {
    public let transport: any EngineTransport
    public let apiVersion: String

    public init(transport: any EngineTransport, apiVersion: String = "1.41") {
        self.transport = transport
        self.apiVersion = apiVersion
    }

    // MARK: System

    /// `GET /_ping`: throws unless the engine answers `OK`.
    public func ping(timeoutSeconds: Double = 2) async throws(EngineError) {
        let response = try await send(EngineRequest(method: .get, path: "/_ping", timeoutSeconds: timeoutSeconds))
        guard String(decoding: response.body, as: UTF8.self).hasPrefix("OK") else {
            throw .malformed("ping answered \(String(decoding: response.body.prefix(64), as: UTF8.self))")
        }
    }

    public func version() async throws(EngineError) -> EngineVersion {
        try await json(EngineRequest(method: .get, path: versioned("/version")))
    }

    public func info() async throws(EngineError) -> EngineInfo {
        try await json(EngineRequest(method: .get, path: versioned("/info")))
    }

    // MARK: Images

    public func inspectImage(_ reference: String) async throws(EngineError) -> ImageDetails {
        try await json(EngineRequest(method: .get, path: versioned("/images/\(pathEscaped(reference))/json")))
    }

    /// Whether the engine has the image; errors other than "not found" are thrown.
    public func hasImage(_ reference: String) async throws(EngineError) -> Bool {
        do {
            _ = try await inspectImage(reference)
            return true
        } catch .notFound {
            return false
        }
    }

    /// `POST /images/create?fromSrc=-`: a root filesystem tar becomes `repository:tag`.
    public func importImage(_ tar: EngineRequest.Body, repository: String, tag: String = "latest", timeoutSeconds: Double = 120) async throws(EngineError) {
        let request = EngineRequest(method: .post, path: versioned("/images/create"),
                                    query: [("fromSrc", "-"), ("repo", repository), ("tag", tag)], body: tar, timeoutSeconds: timeoutSeconds)
        let response = try await send(request)
        try checkProgress(response.body)
    }

    /// `POST /images/create?fromImage=`: pulls from a registry the engine can reach.
    public func pullImage(_ reference: String, timeoutSeconds: Double = 600) async throws(EngineError) {
        let (name, tag) = Self.splitReference(reference)
        let response = try await send(EngineRequest(method: .post, path: versioned("/images/create"),
                                                    query: [("fromImage", name), ("tag", tag)], timeoutSeconds: timeoutSeconds))
        try checkProgress(response.body)
    }

    /// `name[:tag][@digest]` → (`name`, `tag`), with `latest` as the default tag.
    static func splitReference(_ reference: String) -> (String, String) {
        if reference.contains("@") { return (reference, "") }
        if let colon = reference.lastIndex(of: ":"), !reference[colon...].contains("/") {
            return (String(reference[..<colon]), String(reference[reference.index(after: colon)...]))
        }
        return (reference, "latest")
    }

    /// Import and pull answer 200 and report failure inside the progress stream.
    private func checkProgress(_ body: [UInt8]) throws(EngineError) {
        var splitter = JSONLineSplitter()
        var lines = splitter.feed(body)
        if let last = splitter.finish() { lines.append(last) }
        for line in lines {
            if let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any], let error = object["error"] as? String {
                throw .status(500, error)
            }
        }
    }

    // MARK: Containers

    /// Creates a container; answers its engine id.
    public func createContainer(name: String, body: ContainerCreateBody) async throws(EngineError) -> String {
        let data: Data
        do { data = try JSONEncoder().encode(body) } catch { throw .malformed("create body: \(error)") }
        let created: ContainerCreated = try await json(EngineRequest(method: .post, path: versioned("/containers/create"),
                                                                     query: [("name", name)], body: .json(Array(data))))
        return created.id
    }

    /// Starts a container; starting a running one is not an error.
    public func startContainer(_ id: String) async throws(EngineError) {
        do {
            _ = try await send(EngineRequest(method: .post, path: versioned("/containers/\(pathEscaped(id))/start")))
        } catch .notModified {}
    }

    /// SIGTERM, up to `timeoutSeconds`, then SIGKILL (done by the engine); stopping a stopped
    /// container is not an error.
    public func stopContainer(_ id: String, timeoutSeconds: Int) async throws(EngineError) {
        do {
            _ = try await send(EngineRequest(method: .post, path: versioned("/containers/\(pathEscaped(id))/stop"),
                                             query: [("t", String(timeoutSeconds))], timeoutSeconds: Double(timeoutSeconds) + 15))
        } catch .notModified {}
    }

    public func killContainer(_ id: String, signal: String = "SIGKILL") async throws(EngineError) {
        _ = try await send(EngineRequest(method: .post, path: versioned("/containers/\(pathEscaped(id))/kill"), query: [("signal", signal)]))
    }

    /// Removes a container and its anonymous volumes; removing a missing one is not an error.
    public func removeContainer(_ id: String, force: Bool = false) async throws(EngineError) {
        do {
            _ = try await send(EngineRequest(method: .delete, path: versioned("/containers/\(pathEscaped(id))"),
                                             query: [("force", force ? "true" : "false"), ("v", "true")]))
        } catch .notFound {}
    }

    /// `PUT /containers/{id}/archive`: the files of a tar archive extracted into the container
    /// (created or running) under `path`.
    public func putArchive(_ id: String, path: String, _ tar: [UInt8]) async throws(EngineError) {
        _ = try await send(EngineRequest(method: .put, path: versioned("/containers/\(pathEscaped(id))/archive"),
                                         query: [("path", path)], body: .tar(tar)))
    }

    public func inspectContainer(_ id: String) async throws(EngineError) -> ContainerDetails {
        try await json(EngineRequest(method: .get, path: versioned("/containers/\(pathEscaped(id))/json")))
    }

    /// All containers (running or not) carrying every label in `labels` (`key` or `key=value`).
    public func listContainers(labels: [String] = []) async throws(EngineError) -> [ContainerSummary] {
        var query = [("all", "true")]
        if !labels.isEmpty { query.append(("filters", Self.filters(["label": labels]))) }
        return try await json(EngineRequest(method: .get, path: versioned("/containers/json"), query: query))
    }

    /// One CPU/memory sample without waiting for a second one.
    public func stats(_ id: String) async throws(EngineError) -> ContainerStats {
        try await json(EngineRequest(method: .get, path: versioned("/containers/\(pathEscaped(id))/stats"),
                                     query: [("stream", "false"), ("one-shot", "true")]))
    }

    // MARK: Volumes

    public func inspectVolume(_ name: String) async throws(EngineError) -> EngineVolume {
        try await json(EngineRequest(method: .get, path: versioned("/volumes/\(pathEscaped(name))")))
    }

    /// Creates a volume; the engine answers the existing one when the name is taken by a
    /// volume of the same driver.
    public func createVolume(_ body: VolumeCreateBody) async throws(EngineError) -> EngineVolume {
        let data: Data
        do { data = try JSONEncoder().encode(body) } catch { throw .malformed("volume body: \(error)") }
        return try await json(EngineRequest(method: .post, path: versioned("/volumes/create"), body: .json(Array(data))))
    }

    /// Removes a volume; removing a missing one is not an error, one in use is (`conflict`).
    public func removeVolume(_ name: String) async throws(EngineError) {
        do {
            _ = try await send(EngineRequest(method: .delete, path: versioned("/volumes/\(pathEscaped(name))")))
        } catch .notFound {}
    }

    /// The volumes carrying every label in `labels` (`key` or `key=value`).
    public func listVolumes(labels: [String] = []) async throws(EngineError) -> [EngineVolume] {
        var query: [(String, String)] = []
        if !labels.isEmpty { query.append(("filters", Self.filters(["label": labels]))) }
        let list: VolumeList = try await json(EngineRequest(method: .get, path: versioned("/volumes"), query: query))
        return list.volumes ?? []
    }

    // MARK: Networks

    public func inspectNetwork(_ name: String) async throws(EngineError) -> EngineNetwork {
        try await json(EngineRequest(method: .get, path: versioned("/networks/\(pathEscaped(name))")))
    }

    /// Creates a network and answers its id; a taken name is `conflict`.
    @discardableResult
    public func createNetwork(_ body: NetworkCreateBody) async throws(EngineError) -> String {
        let data: Data
        do { data = try JSONEncoder().encode(body) } catch { throw .malformed("network body: \(error)") }
        let created: NetworkCreated = try await json(EngineRequest(method: .post, path: versioned("/networks/create"), body: .json(Array(data))))
        return created.id
    }

    /// Removes a network; removing a missing one is not an error, one in use is (`conflict`).
    public func removeNetwork(_ name: String) async throws(EngineError) {
        do {
            _ = try await send(EngineRequest(method: .delete, path: versioned("/networks/\(pathEscaped(name))")))
        } catch .notFound {}
    }

    /// The networks carrying every label in `labels` (`key` or `key=value`).
    public func listNetworks(labels: [String] = []) async throws(EngineError) -> [EngineNetwork] {
        var query: [(String, String)] = []
        if !labels.isEmpty { query.append(("filters", Self.filters(["label": labels]))) }
        return try await json(EngineRequest(method: .get, path: versioned("/networks"), query: query))
    }

    // MARK: Exec

    /// Runs `command` in the container detached and answers its exit code, polling until it
    /// ends or `timeoutSeconds` pass.
    public func run(_ command: [String], in id: String, timeoutSeconds: Double) async throws(EngineError) -> Int {
        let body: [String: Any] = ["Cmd": command, "AttachStdout": false, "AttachStderr": false, "Tty": false]
        let created: ExecCreated = try await json(EngineRequest(method: .post, path: versioned("/containers/\(pathEscaped(id))/exec"),
                                                                body: .json(Self.jsonBytes(body))))
        _ = try await send(EngineRequest(method: .post, path: versioned("/exec/\(created.id)/start"),
                                         body: .json(Self.jsonBytes(["Detach": true, "Tty": false]))))
        let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int64(timeoutSeconds * 1000)))
        var pause = Duration.milliseconds(10)
        while true {
            let details: ExecDetails = try await json(EngineRequest(method: .get, path: versioned("/exec/\(created.id)/json")))
            if !details.running, let code = details.exitCode { return code }
            if ContinuousClock.now >= deadline { throw .timedOut("exec \(command.first ?? "") after \(timeoutSeconds) s") }
            do { try await Task.sleep(for: pause) } catch { throw .timedOut("cancelled") }
            pause = min(pause * 2, .milliseconds(100))
        }
    }

    // MARK: Streams

    /// `GET /events` for containers, as they happen; ends when the connection ends. Reconnecting
    /// is the caller's (see `EventWatcher`).
    public func events(labels: [String], since: Date? = nil) async throws(EngineError) -> AsyncThrowingStream<EngineEvent, any Error> {
        var query = [("filters", Self.filters(["type": ["container"], "label": labels]))]
        if let since { query.append(("since", String(format: "%.9f", since.timeIntervalSince1970))) }
        let response = try await open(EngineRequest(method: .get, path: versioned("/events"), query: query, timeoutSeconds: 5))
        return AsyncThrowingStream { continuation in
            let task = Task {
                var splitter = JSONLineSplitter()
                do {
                    for try await chunk in response.body {
                        for line in splitter.feed(chunk) {
                            if let event = try? JSONDecoder().decode(EngineEvent.self, from: Data(line)) {
                                continuation.yield(event)
                            }
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: Self.unreachable(error))
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// A container's output, decoded from the multiplexed framing; with `follow` it goes on
    /// until the container stops or the consumer cancels.
    public func logs(_ id: String, follow: Bool, tail: Int? = nil, stdout: Bool = true, stderr: Bool = true) async throws(EngineError) -> AsyncThrowingStream<LogFrame, any Error> {
        let query = [("follow", follow ? "true" : "false"), ("stdout", stdout ? "true" : "false"), ("stderr", stderr ? "true" : "false"),
                     ("tail", tail.map(String.init) ?? "all")]
        let response = try await open(EngineRequest(method: .get, path: versioned("/containers/\(pathEscaped(id))/logs"), query: query, timeoutSeconds: 10))
        return AsyncThrowingStream { continuation in
            let task = Task {
                var decoder = MultiplexedStreamDecoder()
                do {
                    for try await chunk in response.body {
                        for frame in try decoder.feed(chunk) { continuation.yield(frame) }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    // MARK: Plumbing

    private func versioned(_ path: String) -> String { "/v\(apiVersion)\(path)" }

    private func pathEscaped(_ segment: String) -> String { EngineRequest.percentEncode(segment) }

    static func filters(_ filters: [String: [String]]) -> String {
        (try? String(decoding: JSONSerialization.data(withJSONObject: filters, options: [.sortedKeys]), as: UTF8.self)) ?? "{}"
    }

    static func jsonBytes(_ object: [String: Any]) -> [UInt8] {
        (try? Array(JSONSerialization.data(withJSONObject: object))) ?? Array("{}".utf8)
    }

    static func unreachable(_ error: any Error) -> EngineError {
        (error as? EngineError) ?? .unreachable(String(describing: error))
    }

    private func send(_ request: EngineRequest) async throws(EngineError) -> EngineResponse {
        let response: EngineResponse
        do { response = try await transport.send(request) } catch { throw Self.unreachable(error) }
        try Self.check(response.status, response.body)
        return response
    }

    private func open(_ request: EngineRequest) async throws(EngineError) -> EngineStreamingResponse {
        let response: EngineStreamingResponse
        do { response = try await transport.stream(request) } catch { throw Self.unreachable(error) }
        if response.status >= 300 {
            var body: [UInt8] = []
            do { for try await chunk in response.body { body += chunk; if body.count > 65536 { break } } } catch {}
            try Self.check(response.status, body)
        }
        return response
    }

    private func json<T: Decodable>(_ request: EngineRequest) async throws(EngineError) -> T {
        let response = try await send(request)
        do {
            return try JSONDecoder().decode(T.self, from: Data(response.body))
        } catch {
            throw .malformed("\(T.self) from \(request.path): \(error)")
        }
    }

    static func check(_ status: Int, _ body: [UInt8]) throws(EngineError) {
        guard status >= 300 else { return }
        let message = (try? JSONDecoder().decode(EngineMessage.self, from: Data(body)).message)
            ?? String(decoding: body.prefix(512), as: UTF8.self)
        switch status {
        case 304: throw .notModified
        case 404: throw .notFound(message)
        case 409: throw .conflict(message)
        default: throw .status(status, message)
        }
    }
}
