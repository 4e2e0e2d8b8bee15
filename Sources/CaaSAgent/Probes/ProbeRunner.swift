import CaaSModel

/// Runs one check of a probe. Containers use host networking on loopback, so HTTP and TCP
/// probes go to `host` (127.0.0.1 by default); command probes exec in the container.
public struct ProbeRunner: Sendable {
    public let engine: EngineClient
    public let makeTransport: EngineTransportFactory
    public let host: String

    public init(engine: EngineClient, makeTransport: @escaping EngineTransportFactory, host: String = "127.0.0.1") {
        self.engine = engine
        self.makeTransport = makeTransport
        self.host = host
    }

    public func check(_ check: Probe.Check, engineContainerId: String, timeoutSeconds: Double) async -> ProbeResult {
        switch check {
        case .http(let port, let path):
            let transport = makeTransport(.tcp(host: host, port: port, tls: false))
            do {
                let response = try await transport.send(EngineRequest(method: .get, path: path.hasPrefix("/") ? path : "/" + path, timeoutSeconds: timeoutSeconds))
                return (200..<400).contains(response.status) ? .success : .failure("HTTP \(response.status) from \(host):\(port)\(path)")
            } catch {
                return .failure("HTTP \(host):\(port)\(path): \(error)")
            }
        case .tcp(let port):
            if let reason = await TCPConnect.attempt(host: host, port: port, timeoutSeconds: timeoutSeconds) {
                return .failure("TCP \(host):\(port): \(reason)")
            }
            return .success
        case .command(let command):
            do {
                let code = try await engine.run(command, in: engineContainerId, timeoutSeconds: timeoutSeconds)
                return code == 0 ? .success : .failure("\(command.joined(separator: " ")) exited with \(code)")
            } catch {
                return .failure("exec: \(error)")
            }
        }
    }
}
