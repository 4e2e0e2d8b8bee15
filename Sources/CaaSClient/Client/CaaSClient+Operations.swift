import CaaSHTTP

/// What a `202 Accepted` of long work returns: the object and the deployment that tracks it.
public struct Accepted: Sendable {
    public var application: Application
    public var deployment: Deployment?

    public init(application: Application, deployment: Deployment?) {
        self.application = application
        self.deployment = deployment
    }

    /// Reads `{…app, "deployment": {…}}` or `{"application": {…}, "deployment": {…}}`.
    public init(_ json: JSON) {
        let app = json["application"] ?? json["app"] ?? json
        application = Application(app)
        deployment = (json["deployment"] ?? app["deployment"]).flatMap { $0.isNull ? nil : Deployment($0) }
    }
}

/// The answer of `POST /v1/templates/validate`: the errors (with compose line and column), the
/// warnings, and the parsed spec when the text is valid.
public struct ValidationResult: Sendable, Equatable {
    public var valid: Bool
    public var errors: [ProblemDetails.FieldError]
    public var warnings: [ProblemDetails.FieldError]
    public var spec: JSON?

    public init(valid: Bool, errors: [ProblemDetails.FieldError] = [], warnings: [ProblemDetails.FieldError] = [], spec: JSON? = nil) {
        self.valid = valid
        self.errors = errors
        self.warnings = warnings
        self.spec = spec
    }

    init(_ json: JSON) {
        errors = (json["errors"]?.arrayValue ?? []).map(ProblemDetails.FieldError.init)
        warnings = (json["warnings"]?.arrayValue ?? []).map(ProblemDetails.FieldError.init)
        spec = json["spec"]
        valid = json["valid"].map { $0 == .bool(true) } ?? errors.isEmpty
    }

    init(_ problem: ProblemDetails) {
        errors = problem.errors.isEmpty ? [ProblemDetails.FieldError(detail: problem.detail ?? problem.title)] : problem.errors
        warnings = (problem.extensions["warnings"]?.arrayValue ?? []).map(ProblemDetails.FieldError.init)
        spec = nil
        valid = false
    }
}

/// A batch of `GET /v1/events`: the events and the id to continue after.
public struct EventBatch: Sendable {
    public var events: [Event]
    public var lastEventID: Int64
}

extension CaaSClient {
    // MARK: Identity

    /// The caller's tenant (with quotas and usage); 403/404 for the system administrator.
    public func currentTenant() async throws -> Tenant { Tenant(try await get("/v1/tenant")) }

    // MARK: Applications

    /// Creates an application from compose text (`POST /v1/apps`, answered `202`).
    public func createApplication(name: String, clusterID: String, compose: String? = nil, templateID: String? = nil,
                                  templateVersion: Int? = nil, imageID: String? = nil, replicas: Int? = nil,
                                  variables: [String: String] = [:]) async throws -> Accepted {
        var body: [String: JSON] = ["name": .string(name), "cluster_id": .string(clusterID)]
        if let compose { body["compose"] = .string(compose) }
        if let templateID { body["template_id"] = .string(templateID) }
        if let templateVersion { body["template_version"] = .integer(Int64(templateVersion)) }
        if let imageID { body["image_id"] = .string(imageID) }
        if let replicas { body["replicas"] = .integer(Int64(replicas)) }
        if !variables.isEmpty { body["variables"] = .object(variables.mapValues(JSON.string)) }
        return Accepted(try await send(.post, ResourceKind.application.collection, body: .object(body)).json())
    }

    /// Changes an application with a JSON merge patch (`description`, `template_version`,
    /// `variables` with null removing one); a new generation rolls out (`202`, or `200` when
    /// nothing that runs changed). `ifMatch` makes a concurrent change a `412`.
    public func patchApplication(_ id: String, patch: JSON, ifMatch: String?) async throws -> Accepted {
        Accepted(try await send(.patch, ResourceKind.application.path(id), body: patch, ifMatch: ifMatch).json())
    }

    /// Redeploys an application from a new source (`compose`, `template_id` + `template_version`,
    /// `image_id`) and/or a whole new set of `variables` (`POST /v1/apps/{id}/update`).
    public func redeployApplication(_ id: String, body: JSON, ifMatch: String?) async throws -> Accepted {
        Accepted(try await send(.post, ResourceKind.application.path(id) + "/update", body: body, ifMatch: ifMatch).json())
    }

    /// Asks the server to roll an application's services back to their previous generation
    /// (`POST /v1/apps/{id}/rollback`, `202`); returns the application and its newest
    /// deployment, which tracks the rollback.
    public func rollbackApplication(_ id: String) async throws -> Accepted {
        _ = try await send(.post, ResourceKind.application.path(id) + "/rollback")
        let application = Application(try await get(ResourceKind.application.path(id)))
        let newest = try await deployments(applicationID: id).max { ($0.createdAt ?? .distantPast) < ($1.createdAt ?? .distantPast) }
        return Accepted(application: application, deployment: newest.flatMap { $0.isFinished ? nil : $0 })
    }

    /// Deletes an application: everything is stopped first, then removed (`202`).
    /// `DELETE /v1/apps/{id}`; with `volumes`, `?volumes=true`: its named volumes go too.
    public func deleteApplication(_ id: String, volumes: Bool = false) async throws -> JSON {
        try await send(.delete, ResourceKind.application.path(id), query: volumes ? [("volumes", "true")] : []).json()
    }

    public func services(applicationID: String) async throws -> [Service] {
        try await list(ResourceKind.application.path(applicationID) + "/services").map(Service.init)
    }

    /// The containers of an application, a service or a node (`GET /v1/containers?app=&service=&node=&state=`).
    public func containers(applicationID: String? = nil, serviceID: String? = nil, nodeID: String? = nil, state: String? = nil) async throws -> [Container] {
        var query: [(String, String)] = []
        if let applicationID { query.append(("app", applicationID)) }
        if let serviceID { query.append(("service", serviceID)) }
        if let nodeID { query.append(("node", nodeID)) }
        if let state { query.append(("state", state)) }
        return try await list(ResourceKind.container.collection, query: query).map(Container.init)
    }

    public func deployment(_ id: String) async throws -> Deployment {
        Deployment(try await get(ResourceKind.deployment.path(id)))
    }

    public func deployments(applicationID: String, limit: Int? = nil) async throws -> [Deployment] {
        try await list(ResourceKind.application.path(applicationID) + "/deployments", limit: limit).map(Deployment.init)
    }

    /// Sets a service's desired replicas (`POST /v1/services/{id}/scale`).
    public func scale(serviceID: String, replicas: Int) async throws -> Service {
        Service(try await send(.post, ResourceKind.service.path(serviceID) + "/scale",
                               body: ["replicas": .integer(Int64(replicas))]).json())
    }

    // MARK: Templates

    /// Validates compose text on the server. Validation failures come back as the result, not
    /// as a thrown problem.
    public func validate(compose: String, variables: [String: String] = [:]) async throws -> ValidationResult {
        var body: [String: JSON] = ["compose": .string(compose)]
        if !variables.isEmpty { body["variables"] = .object(variables.mapValues(JSON.string)) }
        do {
            return ValidationResult(try await send(.post, "/v1/templates/validate", body: .object(body)).json())
        } catch CaaSClientError.problem(let problem) where problem.status == 400 || problem.status == 422 {
            return ValidationResult(problem)
        }
    }

    // MARK: Events

    /// Events after `after`, waiting up to `wait` seconds for the first one (long poll).
    public func events(after: Int64, wait: Int = 0, limit: Int? = nil, type: String? = nil, objectID: String? = nil) async throws -> EventBatch {
        var query: [(String, String)] = [("after", String(after))]
        if wait > 0 { query.append(("wait", "\(wait)s")) }
        if let limit { query.append(("limit", String(limit))) }
        if let type { query.append(("type", type)) }
        if let objectID { query.append(("object_id", objectID)) }
        let timeout = Duration.seconds(wait) + configuration.timeout
        let json = try await send(.get, "/v1/events", query: query, timeout: timeout).json()
        let events = (json["items"]?.arrayValue ?? []).map(Event.init)
        let last = json["last_event_id"]?.intValue.map(Int64.init) ?? events.last?.sequence ?? after
        return EventBatch(events: events, lastEventID: last)
    }

    /// The event stream (server-sent events) from after `after`, until the task is cancelled or
    /// the server ends it.
    public func eventStream(after: Int64, type: String? = nil, objectID: String? = nil) async throws -> AsyncThrowingStream<Event, Error> {
        var query: [(String, String)] = [("after", String(after))]
        if let type { query.append(("type", type)) }
        if let objectID { query.append(("object_id", objectID)) }
        let response = try await stream("/v1/events", query: query, accept: "text/event-stream")
        let body = response.body
        return AsyncThrowingStream { continuation in
            let task = Task {
                var parser = ServerSentEventParser()
                do {
                    for try await chunk in body {
                        for message in parser.feed(chunk) {
                            if let json = JSON.parse(Array(message.data.utf8)) { continuation.yield(Event(json)) }
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    // MARK: Logs

    /// A container's log (`GET /v1/containers/{id}/logs?follow=true&tail=N`, the only two
    /// parameters the route takes), streamed as it comes when `follow`.
    public func logs(containerID: String, follow: Bool, tail: Int?) async throws -> AsyncThrowingStream<[UInt8], Error> {
        try await stream(ResourceKind.container.path(containerID) + "/logs", query: Self.logsQuery(follow: follow, tail: tail),
                         accept: "text/plain").body
    }

    /// The query of a logs request: `follow=true` when following, `tail=N` when given.
    public static func logsQuery(follow: Bool, tail: Int?) -> [(String, String)] {
        var query: [(String, String)] = []
        if follow { query.append(("follow", "true")) }
        if let tail { query.append(("tail", String(tail))) }
        return query
    }
}
