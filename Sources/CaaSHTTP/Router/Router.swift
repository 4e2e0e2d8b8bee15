/// Routes requests by method and path template to handlers, through middleware.
///
///     var router = Router()
///     router.add(middleware: RequestIDMiddleware())
///     router.add(middleware: AccessLogMiddleware())
///     router.add(middleware: RecoveryMiddleware())
///     router.get("/v1/apps/{id}") { request, context in
///         try .json(store.app(id: context.parameters.require("id")))
///     }
///
/// Templates are `/`-separated segments; `{name}` matches any one non-empty segment (its value is
/// percent-decoded into `context.parameters`). Literal segments beat parameters, with
/// backtracking. An unknown path is `404`; a known path without the method is `405` with `Allow`;
/// `HEAD` runs the `GET` handler (the server drops the body); `OPTIONS` without its own route is
/// answered `204` with `Allow` (a CORS middleware can intercept it first). The route is resolved
/// before middleware runs, so middleware sees `context.route` and `context.parameters`; 404 and 405
/// are thrown as `HTTPError` through the middleware like any handler error.
///
/// `routes` enumerates the table (method + template) in registration order.
public struct Router: HTTPResponder {
    public typealias Handler = @Sendable (HTTPRequest, RequestContext) async throws -> HTTPResponse

    /// One entry of the route table.
    public struct Route: Sendable, Hashable, CustomStringConvertible {
        public let method: HTTPMethod
        public let path: String
        public var description: String { "\(method) \(path)" }
    }

    private struct Node: Sendable {
        var literals: [String: Node] = [:]
        var parameterName: String?
        var parameterChild: [Node] = []   // zero or one
        var handlers: [HTTPMethod: Handler] = [:]
        var template: String?
    }

    private var root = Node()
    private var middleware: [any HTTPMiddleware] = []
    public private(set) var routes: [Route] = []

    public init() {}

    /// Appends a middleware; the first added runs first (outermost).
    public mutating func add(middleware: any HTTPMiddleware) {
        self.middleware.append(middleware)
    }

    /// Registers `handler` for `method` on `path`. A duplicate route, or a parameter renamed at a
    /// position where another route already has one, is a programming error.
    public mutating func on(_ method: HTTPMethod, _ path: String, use handler: @escaping Handler) {
        let segments = Router.templateSegments(path)
        Router.insert(&root, segments: segments[...], method: method, template: path, handler: handler)
        routes.append(Route(method: method, path: path))
    }

    public mutating func get(_ path: String, use handler: @escaping Handler) { on(.get, path, use: handler) }
    public mutating func post(_ path: String, use handler: @escaping Handler) { on(.post, path, use: handler) }
    public mutating func put(_ path: String, use handler: @escaping Handler) { on(.put, path, use: handler) }
    public mutating func patch(_ path: String, use handler: @escaping Handler) { on(.patch, path, use: handler) }
    public mutating func delete(_ path: String, use handler: @escaping Handler) { on(.delete, path, use: handler) }

    private static func templateSegments(_ path: String) -> [Substring] {
        precondition(path.hasPrefix("/"), "route template must start with '/': \(path)")
        if path == "/" { return [] }
        return path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
    }

    private static func insert(_ node: inout Node, segments: ArraySlice<Substring>, method: HTTPMethod,
                               template: String, handler: @escaping Handler) {
        guard let segment = segments.first else {
            precondition(node.handlers[method] == nil, "duplicate route \(method) \(template)")
            precondition(node.template == nil || node.template == template,
                         "routes \(node.template!) and \(template) are the same path")
            node.handlers[method] = handler
            node.template = template
            return
        }
        let rest = segments.dropFirst()
        if segment.hasPrefix("{") && segment.hasSuffix("}") && segment.count > 2 {
            let name = String(segment.dropFirst().dropLast())
            precondition(node.parameterName == nil || node.parameterName == name,
                         "parameter {\(name)} in \(template) conflicts with {\(node.parameterName!)}")
            node.parameterName = name
            if node.parameterChild.isEmpty { node.parameterChild = [Node()] }
            insert(&node.parameterChild[0], segments: rest, method: method, template: template, handler: handler)
        } else {
            precondition(!segment.contains("{") && !segment.contains("}"), "malformed segment '\(segment)' in \(template)")
            precondition(!segment.isEmpty, "empty segment in \(template)")
            insert(&node.literals[String(segment), default: Node()], segments: rest, method: method, template: template, handler: handler)
        }
    }

    // MARK: Matching

    /// The result of looking a request up in the table.
    public enum Match: Sendable {
        /// A handler for the method (or `GET` for a `HEAD`), with its template and parameters.
        case found(route: String, parameters: PathParameters, handler: Handler)
        /// The path exists, not with this method; `allowed` is the `Allow` list.
        case methodNotAllowed(route: String, parameters: PathParameters, allowed: [HTTPMethod])
        case notFound
    }

    /// Looks a method and (percent-encoded) path up.
    public func match(method: HTTPMethod, path: String) -> Match {
        var segments: [String] = []
        if path != "/" {
            guard path.hasPrefix("/") else { return .notFound }
            for raw in path.utf8.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
                guard let decoded = percentDecode(raw, plusAsSpace: false) else { return .notFound }
                segments.append(decoded)
            }
        }
        var parameters = PathParameters()
        guard let node = Router.find(root, segments: segments, index: 0, parameters: &parameters),
              let template = node.template else {
            return .notFound
        }
        if let handler = node.handlers[method] {
            return .found(route: template, parameters: parameters, handler: handler)
        }
        if method == .head, let handler = node.handlers[.get] {
            return .found(route: template, parameters: parameters, handler: handler)
        }
        return .methodNotAllowed(route: template, parameters: parameters, allowed: Router.allowed(node))
    }

    private static func find(_ node: Node, segments: [String], index: Int, parameters: inout PathParameters) -> Node? {
        if index == segments.count { return node.template == nil ? nil : node }
        let segment = segments[index]
        if let child = node.literals[segment],
           let found = find(child, segments: segments, index: index + 1, parameters: &parameters) {
            return found
        }
        if let name = node.parameterName, !segment.isEmpty {
            let saved = parameters
            parameters.set(name, segment)
            if let found = find(node.parameterChild[0], segments: segments, index: index + 1, parameters: &parameters) {
                return found
            }
            parameters = saved
        }
        return nil
    }

    private static func allowed(_ node: Node) -> [HTTPMethod] {
        var methods = Set(node.handlers.keys)
        if methods.contains(.get) { methods.insert(.head) }
        methods.insert(.options)
        return methods.sorted { $0.rawValue < $1.rawValue }
    }

    // MARK: Responding

    public func respond(to request: HTTPRequest, context: RequestContext) async throws -> HTTPResponse {
        var context = context
        let endpoint: Handler
        switch match(method: request.method, path: request.path) {
        case .found(let route, let parameters, let handler):
            context.route = route
            context.parameters = parameters
            endpoint = handler
        case .methodNotAllowed(let route, let parameters, let allowed):
            context.route = route
            context.parameters = parameters
            let allow = allowed.map(\.rawValue).joined(separator: ", ")
            if request.method == .options {
                endpoint = { _, _ in HTTPResponse(status: .noContent, headers: ["Allow": allow]) }
            } else {
                endpoint = { request, _ in
                    throw HTTPError(.methodNotAllowed, detail: "\(request.method) is not allowed here; use \(allow).",
                                    headers: ["Allow": allow])
                }
            }
        case .notFound:
            endpoint = { request, _ in
                let path = request.path.count <= 200 ? request.path : request.path.prefix(200) + "…"
                throw HTTPError(.notFound, detail: "No route for \(path).")
            }
        }
        return try await run(0, request, context, endpoint)
    }

    private func run(_ index: Int, _ request: HTTPRequest, _ context: RequestContext, _ endpoint: Handler) async throws -> HTTPResponse {
        if index == middleware.count { return try await endpoint(request, context) }
        return try await middleware[index].handle(request, context: context) { request, context in
            try await run(index + 1, request, context, endpoint)
        }
    }
}

/// Percent-decodes UTF-8 bytes; nil on a malformed escape or invalid UTF-8.
func percentDecode<C: Collection<UInt8>>(_ bytes: C, plusAsSpace: Bool) -> String? {
    if !bytes.contains(UInt8(ascii: "%")) && !(plusAsSpace && bytes.contains(UInt8(ascii: "+"))) {
        return String(validating: bytes, as: UTF8.self)
    }
    var output: [UInt8] = []
    output.reserveCapacity(bytes.count)
    var iterator = bytes.makeIterator()
    while let byte = iterator.next() {
        if byte == UInt8(ascii: "%") {
            guard let high = iterator.next().flatMap(hexDigit), let low = iterator.next().flatMap(hexDigit) else { return nil }
            output.append(high << 4 | low)
        } else if plusAsSpace && byte == UInt8(ascii: "+") {
            output.append(0x20)
        } else {
            output.append(byte)
        }
    }
    return String(validating: output, as: UTF8.self)
}

private func hexDigit(_ byte: UInt8) -> UInt8? {
    switch byte {
    case 0x30...0x39: byte - 0x30
    case 0x41...0x46: byte - 0x41 + 10
    case 0x61...0x66: byte - 0x61 + 10
    default: nil
    }
}
