import CaaSHTTP
import Foundation

/// Serves the control plane's API through CaaSHTTP: converts requests and answers; everything
/// else happens in `ControlPlane.handle(_:)`.
public struct ControlPlaneResponder: HTTPResponder {
    public let plane: ControlPlane

    public init(plane: ControlPlane) { self.plane = plane }

    public func respond(to request: HTTPRequest, context: RequestContext) async throws -> HTTPResponse {
        var apiRequest: APIRequest
        do {
            apiRequest = try plane.apiRequest(from: request)
            let declared = request.headers["content-length"].flatMap { Int($0) }
            let chunked = request.headers["transfer-encoding"]?.lowercased().contains("chunked") == true
            if chunked || (declared ?? 0) > ControlPlane.unauthenticatedBodyBytes {
                // A large body is read only for a caller who authenticated: anonymous routes take
                // small bodies, and a failed authentication answers before a byte of it is read.
                // No route: 404 or 405, the body unread.
                guard let route = plane.route(for: apiRequest) else { return ControlPlane.httpResponse(await plane.handle(apiRequest)) }
                if route.access == .anonymous {
                    if let declared, declared > ControlPlane.unauthenticatedBodyBytes {
                        return ControlPlane.httpResponse(APIResponse.problem(APIError.payloadTooLarge(limit: ControlPlane.unauthenticatedBodyBytes)))
                    }
                    apiRequest.body = try await ControlPlane.collect(request.body, upTo: ControlPlane.unauthenticatedBodyBytes)
                    return ControlPlane.httpResponse(await plane.handle(apiRequest))
                }
                do {
                    apiRequest.preauthentication = .success(try await plane.authenticator.authenticate(apiRequest))
                } catch {
                    apiRequest.preauthentication = .failure(error)
                    return ControlPlane.httpResponse(await plane.handle(apiRequest))
                }
            }
            apiRequest.body = try await ControlPlane.collect(request.body, upTo: plane.settings.maximumBodyBytes)
        } catch {
            return ControlPlane.httpResponse(APIResponse.problem(error))
        }
        return ControlPlane.httpResponse(await plane.handle(apiRequest))
    }
}

extension ControlPlane {
    /// The responder to give `HTTPServer` (or to mount under `/v1` in a router).
    public func makeResponder() -> ControlPlaneResponder { ControlPlaneResponder(plane: self) }

    /// Bodies larger than this are read only once the caller is authenticated.
    static let unauthenticatedBodyBytes = 64 << 10

    static func collect(_ body: HTTPRequestBody, upTo limit: Int) async throws(APIError) -> [UInt8] {
        do {
            return try await body.collect(upTo: limit)
        } catch {
            throw APIError.payloadTooLarge(limit: limit)
        }
    }

    /// The API's view of `request`, its body not read yet.
    func apiRequest(from request: HTTPRequest) throws(APIError) -> APIRequest {
        var headers: [String: String] = [:]
        for field in request.headers {
            let name = field.name.lowercased()
            headers[name] = headers[name].map { $0 + ", " + field.value } ?? field.value
        }
        let target = request.path + (request.query.map { "?" + $0 } ?? "")
        return try APIRequest(method: request.method.rawValue, target: target, headers: headers, body: [],
                              clientAddress: settings.trustedProxies.client(peer: TrustedProxies.bare(request.connection.remoteAddress),
                                                                            forwardedFor: headers["x-forwarded-for"]))
    }

    static func httpResponse(_ response: APIResponse) -> HTTPResponse {
        let headers = HTTPHeaders(response.headers)
        switch response.body {
        case .bytes(let bytes):
            return HTTPResponse(status: HTTPStatus(code: response.status), headers: headers, body: HTTPResponseBody(bytes: bytes))
        case .stream(let produce):
            return HTTPResponse.stream(status: HTTPStatus(code: response.status), headers: headers) { writer in
                try await produce(HTTPStreamWriter(writer: writer))
            }
        }
    }
}

struct HTTPStreamWriter: ResponseStreamWriter {
    let writer: HTTPResponseBodyWriter
    func write(_ bytes: [UInt8]) async throws { try await writer.write(bytes) }
}

extension ControlPlane {
    /// Registers every API route on `router` (plus `OPTIONS` on each path, for CORS preflights),
    /// each handled by the control plane's pipeline. caas-server adds `/healthz`, `/readyz` and
    /// `/v1/version` to the same router.
    public func register(on router: inout Router) {
        let responder = makeResponder()
        let handler: Router.Handler = { request, context in try await responder.respond(to: request, context: context) }
        var paths: [String] = []
        for route in routes {
            router.on(HTTPMethod(rawValue: route.method), route.path, use: handler)
            if !paths.contains(route.path) { paths.append(route.path) }
        }
        for path in paths { router.on(.options, path, use: handler) }
    }

    /// A router serving the API.
    public func makeRouter() -> Router {
        var router = Router()
        register(on: &router)
        return router
    }
}
