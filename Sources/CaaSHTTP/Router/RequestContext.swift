import Logging

/// What travels with a request through middleware to its handler: its id, a logger that carries
/// `request.id`, the matched route and path parameters, and typed storage for later middleware
/// (for example the authenticated principal).
public struct RequestContext: Sendable {
    /// The request id (set by `RequestIDMiddleware`; empty before it).
    public var requestID: String
    /// Log through this: it carries `request.id` once the id is known.
    public var logger: Logger
    /// The matched route template (`/v1/apps/{id}`), nil when no route matched.
    public var route: String?
    /// The values of the route's `{name}` segments, percent-decoded.
    public var parameters: PathParameters
    /// Typed values added by middleware.
    public var storage: RequestStorage

    public init(requestID: String = "", logger: Logger, route: String? = nil,
                parameters: PathParameters = PathParameters(), storage: RequestStorage = RequestStorage()) {
        self.requestID = requestID
        self.logger = logger
        self.route = route
        self.parameters = parameters
        self.storage = storage
    }
}

/// A key for `RequestStorage`: the type names the slot and fixes its value type.
///
///     enum PrincipalKey: RequestStorageKey { typealias Value = Principal }
///     context.storage[PrincipalKey.self] = principal
public protocol RequestStorageKey {
    associatedtype Value: Sendable
}

/// Typed, per-request storage.
public struct RequestStorage: Sendable {
    private var values: [ObjectIdentifier: any Sendable] = [:]

    public init() {}

    public subscript<Key: RequestStorageKey>(key: Key.Type) -> Key.Value? {
        get { values[ObjectIdentifier(key)] as? Key.Value }
        set { values[ObjectIdentifier(key)] = newValue }
    }
}

/// The `{name}` values of the matched route.
public struct PathParameters: Sendable, Equatable, Sequence {
    private var pairs: [(name: String, value: String)] = []

    public init() {}

    public subscript(name: String) -> String? {
        pairs.first { $0.name == name }?.value
    }

    public mutating func set(_ name: String, _ value: String) {
        if let index = pairs.firstIndex(where: { $0.name == name }) { pairs[index].value = value } else { pairs.append((name, value)) }
    }

    /// The value, or a 400 problem naming the parameter.
    public func require(_ name: String) throws -> String {
        guard let value = self[name] else {
            throw HTTPError(.badRequest, detail: "Missing path parameter '\(name)'.", errors: [.init(path: name, detail: "missing")])
        }
        return value
    }

    /// The value converted with `LosslessStringConvertible` (`Int`, `UUID`…), or a 400 problem.
    public func require<T: LosslessStringConvertible>(_ name: String, as type: T.Type) throws -> T {
        let text = try require(name)
        guard let value = T(text) else {
            throw HTTPError(.badRequest, detail: "Path parameter '\(name)' is not a valid \(T.self).",
                            errors: [.init(path: name, detail: "not a valid \(T.self)")])
        }
        return value
    }

    public var count: Int { pairs.count }
    public func makeIterator() -> AnyIterator<(name: String, value: String)> {
        var iterator = pairs.makeIterator()
        return AnyIterator { iterator.next() }
    }

    public static func == (lhs: PathParameters, rhs: PathParameters) -> Bool {
        lhs.pairs.elementsEqual(rhs.pairs) { $0.name == $1.name && $0.value == $1.value }
    }
}
