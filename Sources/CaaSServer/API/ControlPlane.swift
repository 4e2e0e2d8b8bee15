import CaaSCrypto
import CaaSModel
import CaaSPostgres
import CaaSStore
import Foundation
import Logging

/// The API of the control plane: routes, authentication, the conventions, and the maintenance
/// loops. `caas-server` makes one, calls `bootstrap()`, serves `makeRouter()` (or `handle(_:)`),
/// and runs `run()` for retention and event notifications.
public final class ControlPlane: Sendable {
    public let store: Store
    public let settings: TenancySettings
    public let logger: Logger
    public let dev: Bool
    public let notifier: EventNotifier
    /// Settings of the resource API (secrets key, rollout deadline, default cluster network).
    public let resources: ResourceSettings
    /// The key sealing application secrets: the configured one, or a random one for this process.
    public let secretsKey: [UInt8]
    let authenticator: Authenticator
    let tokenLimiter: RateLimiter
    /// Open streams per tenant, and the token checks that end them.
    public let streams: StreamGuard
    /// Every route of the API pipeline.
    public let routes: [APIRoute]

    /// Routes caas-server serves itself, outside this pipeline (openapi.yaml lists them too).
    public static let externalRoutes: [(method: String, path: String)] = HealthRoutes.paths.map { ("GET", $0) }

    /// `additionalRoutes`: routes of services wired in by `caas-server` (the agent channel's).
    public init(store: Store, settings: TenancySettings, resources: ResourceSettings = ResourceSettings(), dev: Bool = false,
                additionalRoutes: [APIRoute] = [], logger: Logger) {
        self.store = store
        self.resources = resources
        if let key = resources.secretsKey {
            self.secretsKey = key
        } else {
            logger.warning("CAAS_SECRETS_KEY is not set: application secrets are sealed with a random key that dies with this process")
            self.secretsKey = (try? SecureRandom.bytes(SecretBox.keyByteCount)) ?? Array(repeating: 0, count: SecretBox.keyByteCount)
        }
        self.settings = settings
        self.dev = dev
        self.logger = logger
        self.notifier = store.eventNotifier
        self.tokenLimiter = RateLimiter(ratePerSecond: settings.rateLimitPerSecond, burst: settings.rateLimitBurst)
        self.streams = StreamGuard(store: store, limit: settings.maximumStreamsPerTenant,
                                   recheckSeconds: Double(settings.streamRecheckSeconds), logger: logger)
        self.authenticator = Authenticator(
            store: store,
            failures: RateLimiter(ratePerSecond: settings.authFailurePerSecond, burst: settings.authFailureBurst),
            logger: logger)
        self.routes = TenantRoutes.all + PolicyRoutes.all + TokenRoutes.all + AuditRoutes.all + EventRoutes.all + ResourceRoutes.all + SchedulerRoutes.all + additionalRoutes
    }

    /// The server's entry point: the store on `pool` (transactions run as `caas_app`), the
    /// tenancy settings of `configuration`.
    public convenience init(configuration: ServerConfiguration, pool: PostgresPool, logger: Logger) {
        self.init(store: Store(source: pool, logger: logger), settings: configuration.tenancy, resources: configuration.resources,
                  dev: configuration.dev, logger: logger)
    }

    // MARK: The request pipeline

    /// Answers one API request: request id, CORS, route, authentication, authorization, rate
    /// limit, idempotency, the handler, problem mapping, audit.
    public func handle(_ request: APIRequest) async -> APIResponse {
        let requestID = RequestID.accept(request.header("x-request-id"))
        var logger = self.logger
        logger[metadataKey: "request.id"] = .string(requestID)
        var response: APIResponse
        if request.method == "OPTIONS", request.header("access-control-request-method") != nil {
            response = CORS.preflight(request, origins: settings.corsOrigins)
        } else {
            var principal: Principal?
            var route: APIRoute?
            do {
                response = try await dispatch(request, requestID: requestID, logger: logger, principal: &principal, route: &route)
            } catch {
                response = APIResponse.problem(problem(for: error, requestID: requestID, logger: logger))
            }
            if let route, let principal, route.isMutating {
                await audit(route: route, request: request, principal: principal, response: response, requestID: requestID, logger: logger)
            }
        }
        response.setHeader("X-Request-Id", requestID)
        CORS.decorate(&response, request: request, origins: settings.corsOrigins)
        return response
    }

    /// The route `request` would be dispatched to, if any.
    func route(for request: APIRequest) -> APIRoute? {
        routes.first { route in
            route.match(request.path) != nil && (route.method == request.method || (request.method == "HEAD" && route.method == "GET"))
        }
    }

    private func dispatch(_ request: APIRequest, requestID: String, logger: Logger,
                          principal: inout Principal?, route matched: inout APIRoute?) async throws -> APIResponse {
        var allowed: [String] = []
        // Methods of routes whose id parameters have the shape of their kind: `/v1/templates/validate`
        // fits `/v1/templates/{template_id}` too, but `validate` is no template id, so its Allow is POST.
        var allowedWithIDs: [String] = []
        var found: (APIRoute, [String: String])?
        for route in routes {
            guard let parameters = route.match(request.path) else { continue }
            allowed.append(route.method)
            if route.idParameters.allSatisfy({ name, kind in parameters[name].map { Identifier.isValid($0, kind: kind) } ?? true }) {
                allowedWithIDs.append(route.method)
            }
            if route.method == request.method || (request.method == "HEAD" && route.method == "GET") {
                found = (route, parameters)
            }
        }
        guard let (route, parameters) = found else {
            if allowed.isEmpty { throw APIError.routeNotFound(request.path) }
            throw APIError.methodNotAllowed(allowedWithIDs.isEmpty ? allowed : allowedWithIDs)
        }
        if route.access != .anonymous {
            let caller: Principal
            if let settled = request.preauthentication { caller = try settled.get() } else { caller = try await authenticator.authenticate(request) }
            principal = caller
            matched = route
            if case .denied(let reason) = route.access.decision(for: caller.role) {
                throw APIError.forbidden(reason)
            }
            if case .limited(let retryAfter) = tokenLimiter.take(caller.tokenID) {
                throw APIError.tooManyRequests(retryAfter: retryAfter, detail: "this token is over its rate limit")
            }
        }
        for name in request.query.keys.sorted() where !route.queryParameters.contains(name) {
            let known = route.queryParameters.sorted().joined(separator: ", ")
            throw APIError.badRequest("unknown query parameter \(name)" + (known.isEmpty ? "" : " (this route takes \(known))"), pointer: name)
        }
        for (name, kind) in route.idParameters {
            if let value = parameters[name], !Identifier.isValid(value, kind: kind) {
                throw APIError.notFound(RequestID.kindName(kind), value)
            }
        }
        if request.body.count > settings.maximumBodyBytes {
            throw APIError.payloadTooLarge(limit: settings.maximumBodyBytes)
        }
        var context = APIContext(request: request, parameters: parameters, principal: principal,
                                     requestID: requestID, plane: self, logger: logger)
        if let principal { context = context.with(logger: logger.with("tenant.id", principal.tenantID ?? "system")) }
        if route.method == "POST", let key = request.header("idempotency-key"), let principal {
            return try await Idempotency.run(key: key, context: context, principal: principal, route: route)
        }
        return try await route.handler(context)
    }

    /// The problem answer for anything a handler threw; unknown errors are 500s without details.
    func problem(for error: any Error, requestID: String, logger: Logger) -> APIError {
        Self.problem(for: error, requestID: requestID, logger: logger)
    }

    /// The same, for every listener (the API's and the agents'): store errors, a database that
    /// does not answer (503 with `Retry-After`), and 500 for anything else.
    static func problem(for error: any Error, requestID: String, logger: Logger) -> APIError {
        switch error {
        case let error as APIError:
            if error.status >= 500 { logger.error("request failed", metadata: ["problem": "\(error)"]) }
            return error
        case let error as StoreError:
            switch error {
            case .notFound(let kind, let id): return .notFound(kind, id)
            case .conflict(let detail): return .conflict(detail)
            case .inUse(let detail): return .conflict(detail, type: "in-use")
            case .quotaExceeded(let quota, let limit, let used): return .quotaExceeded(quota: quota, limit: limit, used: used)
            case .versionMismatch(let current): return .preconditionFailed(current: current)
            case .rowSecurityBypassed:
                logger.critical("row-level security would be bypassed", metadata: ["error": "\(error)"])
                return .internalError(requestID: requestID)
            }
        case let error as PostgresError:
            logger.error("database error", metadata: ["error": "\(error)"])
            if error.isConnectionFailure || error.kind == .poolTimeout {
                return .unavailable("the database is not reachable right now")
            }
            return .internalError(requestID: requestID)
        default:
            logger.error("request failed", metadata: ["error": "\(error)"])
            return .internalError(requestID: requestID)
        }
    }

    private func audit(route: APIRoute, request: APIRequest, principal: Principal, response: APIResponse,
                       requestID: String, logger: Logger) async {
        let target = response.auditTarget ?? route.parameterNames.last.flatMap { name in route.match(request.path)?[name] }
        let tenant = principal.tenantID ?? response.auditTenant
            ?? route.match(request.path)?["tenant_id"].flatMap { Identifier.isValid($0, kind: .tenant) ? $0 : nil }
        let entry = AuditEntry(tenantID: tenant, tokenID: principal.tokenID, tokenName: principal.tokenName,
                               action: route.action, target: target, method: request.method, path: request.path,
                               outcome: response.status, requestID: requestID)
        do {
            try await store.systemTransaction { try $0.recordAudit(entry) }
        } catch {
            logger.error("could not write the audit log", metadata: ["error": "\(error)", "action": .string(route.action)])
        }
    }
}

extension APIContext {
    func with(logger: Logger) -> APIContext {
        APIContext(request: request, parameters: parameters, principal: principal, requestID: requestID, plane: plane, logger: logger)
    }
}

extension Logger {
    func with(_ key: String, _ value: String) -> Logger {
        var copy = self
        copy[metadataKey: key] = .string(value)
        return copy
    }
}

/// `X-Request-Id`: the client's when it is sane, otherwise a new one.
enum RequestID {
    static func accept(_ header: String?) -> String {
        if let header, (1...128).contains(header.utf8.count),
           header.utf8.allSatisfy({ b in
               (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(b)
                   || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
                   || b == UInt8(ascii: ".") || b == UInt8(ascii: ":")
           }) {
            return header
        }
        return "req_" + Base32.encode((try? SecureRandom.bytes(12)) ?? Array(UUID().uuidString.utf8.prefix(12)))
    }

    static func kindName(_ kind: IdentifierKind) -> String {
        switch kind {
        case .tenant: "tenant"
        case .token: "token"
        case .cluster: "cluster"
        case .node: "node"
        case .template: "template"
        case .image: "image"
        case .application: "application"
        case .service: "service"
        case .container: "container"
        case .deployment: "deployment"
        case .job: "job"
        }
    }
}
