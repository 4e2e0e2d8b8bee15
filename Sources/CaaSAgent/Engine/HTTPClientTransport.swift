import CaaSModel
import CaaSHTTP
import Foundation

/// `EngineTransport` over the CaaSHTTP client: unix socket, TCP, or TCP with TLS (the client's
/// TLS configuration carries the CA and the client certificate for the engine).
public struct HTTPClientTransport: EngineTransport {
    public let client: HTTPClient
    public let endpoint: HTTPClientEndpoint

    public init(client: HTTPClient, endpoint: EngineEndpoint) {
        self.client = client
        switch endpoint {
        case .unixSocket(let path): self.endpoint = .unix(path: path)
        case .tcp(let host, let port, let tls): self.endpoint = .tcp(host: host, port: port, tls: tls)
        }
    }

    /// A factory that makes transports sharing one client (and its connection pool).
    public static func factory(_ client: HTTPClient) -> EngineTransportFactory {
        { endpoint in HTTPClientTransport(client: client, endpoint: endpoint) }
    }

    public func send(_ request: EngineRequest) async throws -> EngineResponse {
        let outgoing = try await makeRequest(request)
        do {
            let response = try await client.execute(outgoing, timeout: .milliseconds(Int64(saturating: request.timeoutSeconds * 1000)))
            return EngineResponse(status: response.status, body: response.body)
        } catch {
            throw Self.engineError(error, request)
        }
    }

    public func stream(_ request: EngineRequest) async throws -> EngineStreamingResponse {
        let outgoing = try await makeRequest(request)
        do {
            let response = try await client.stream(outgoing, timeout: .milliseconds(Int64(saturating: request.timeoutSeconds * 1000)))
            return EngineStreamingResponse(status: response.status, body: response.body)
        } catch {
            throw Self.engineError(error, request)
        }
    }

    private func makeRequest(_ request: EngineRequest) async throws -> HTTPClientRequest {
        var headers: HTTPClientHeaders = [:]
        let body: HTTPClientRequest.Body
        switch request.body {
        case .none:
            body = .none
        case .json(let bytes):
            headers.set("Content-Type", "application/json")
            body = .bytes(bytes)
        case .tar(let bytes):
            headers.set("Content-Type", "application/x-tar")
            body = .bytes(bytes)
        case .tarFile(let path):
            headers.set("Content-Type", "application/x-tar")
            body = .stream(try Self.fileChunks(path))
        }
        return HTTPClientRequest(method: request.method, endpoint: endpoint, target: request.target, headers: headers, body: body)
    }

    /// A file's bytes in 256 KiB pieces, read on a Dispatch thread.
    static func fileChunks(_ path: String) throws -> AsyncThrowingStream<[UInt8], any Error> {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw EngineError.malformed("cannot read \(path)") }
        let box = HandleBox(handle)
        return AsyncThrowingStream(unfolding: {
            await withCheckedContinuation { continuation in
                DispatchQueue.global().async {
                    let data = box.handle.readData(ofLength: 256 * 1024)
                    if data.isEmpty { try? box.handle.close() }
                    continuation.resume(returning: data.isEmpty ? nil : Array(data))
                }
            }
        })
    }

    private final class HandleBox: @unchecked Sendable {
        let handle: FileHandle
        init(_ handle: FileHandle) { self.handle = handle }
    }

    static func engineError(_ error: any Error, _ request: EngineRequest) -> EngineError {
        switch error as? HTTPClientError {
        case .timeout?: .timedOut("\(request.method) \(request.path) after \(request.timeoutSeconds) s")
        case let known?: .unreachable(known.description)
        case nil: (error as? EngineError) ?? .unreachable(String(describing: error))
        }
    }
}
