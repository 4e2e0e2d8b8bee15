import CaaSStore
import Foundation

/// `GET /v1/events`: the caller's tenant's events in id order. `after` (or `Last-Event-ID`) is
/// the last id the reader has; `wait=30s` long-polls until something arrives; with
/// `Accept: text/event-stream` the answer is a server-sent event stream (`id:` lines, heartbeat
/// comments) that runs until the client leaves.
enum EventRoutes {
    static let maximumWaitSeconds = 60.0
    static var heartbeatSeconds: Double { 15 }

    static let all: [APIRoute] = [
        APIRoute("GET", "/v1/events", action: "events.list", access: .tenant(.read),
                 query: ["after", "limit", "wait", "type", "object_id"], handler: list),
    ]

    struct Query: Sendable {
        var after: Int64
        var limit: Int
        var wait: Double
        var type: String?
        var objectID: String?
    }

    static func parse(_ context: APIContext) throws -> Query {
        // Both are checked when both are given (`after` wins): a malformed one is named, never ignored.
        var after: Int64 = 0
        if let text = context.request.header("last-event-id") {
            guard let value = Int64(text), value >= 0 else {
                throw APIError.badRequest("Last-Event-ID must be an event id (an integer ≥ 0)", pointer: "Last-Event-ID")
            }
            after = value
        }
        if let text = context.request.query["after"] {
            guard let value = Int64(text), value >= 0 else { throw APIError.badRequest("after must be an event id (an integer ≥ 0)", pointer: "after") }
            after = value
        }
        var limit = PageRequest.defaultLimit
        if let text = context.request.query["limit"] {
            guard let value = Int(text), (1...PageRequest.maximumLimit).contains(value) else {
                throw APIError.badRequest("limit must be an integer from 1 to \(PageRequest.maximumLimit)", pointer: "limit")
            }
            limit = value
        }
        var wait = 0.0
        if let text = context.request.query["wait"] {
            let number = text.hasSuffix("s") ? String(text.dropLast()) : text
            guard let value = Double(number), value >= 0, value <= maximumWaitSeconds else {
                throw APIError.badRequest("wait must be seconds from 0 to \(Int(maximumWaitSeconds)), like 30s", pointer: "wait")
            }
            wait = value
        }
        return Query(after: after, limit: limit, wait: wait, type: try context.queryText("type"), objectID: try context.queryText("object_id"))
    }

    static func list(_ context: APIContext) async throws -> APIResponse {
        let query = try parse(context)
        let scope = try context.tenantScope()
        if (context.request.header("accept") ?? "").contains("text/event-stream") {
            return try stream(context, scope: scope, query: query)
        }
        var events = try await fetch(context.store, scope, query)
        if events.isEmpty, query.wait > 0 {
            let deadline = Date().addingTimeInterval(query.wait)
            while events.isEmpty {
                let remaining = deadline.timeIntervalSinceNow
                if remaining <= 0 { break }
                _ = await context.plane.notifier.wait(tenantID: scope.tenantID, after: query.after, timeout: remaining)
                if Task.isCancelled { break }
                events = try await fetch(context.store, scope, query)
            }
        }
        let last = events.last?.id ?? query.after
        return .json(.object([
            "items": .array(events.map(Views.event)),
            "last_event_id": .integer(last),
        ]))
    }

    static func fetch(_ store: Store, _ scope: TenantScope, _ query: Query) async throws -> [EventRecord] {
        try await store.transaction(scope) { try $0.events(after: query.after, limit: query.limit, type: query.type, objectID: query.objectID) }
    }

    /// One server-sent event per event; a comment line every `heartbeatSeconds` keeps proxies
    /// from closing an idle stream.
    static func stream(_ context: APIContext, scope: TenantScope, query: Query) throws -> APIResponse {
        let store = context.store
        let notifier = context.plane.notifier
        let heartbeat = heartbeatSeconds
        var response = APIResponse(status: 200, headers: [
            ("Content-Type", "text/event-stream"),
            ("Cache-Control", "no-store"),
        ])
        response.body = try context.guardedStream { writer in
            var cursor = query
            try await writer.write(Array(": caas events for \(scope.tenantID)\nretry: 2000\n\n".utf8))
            while !Task.isCancelled {
                let events = try await fetch(store, scope, cursor)
                for event in events {
                    try await writer.write(Array(sse(event).utf8))
                    cursor.after = event.id
                }
                if events.count == cursor.limit { continue }
                let woke = await notifier.wait(tenantID: scope.tenantID, after: cursor.after, timeout: heartbeat)
                if !woke { try await writer.write(Array(": heartbeat\n\n".utf8)) }
            }
        }
        return response
    }

    static func sse(_ event: EventRecord) -> String {
        "id: \(event.id)\nevent: \(event.type)\ndata: \(Views.event(event).serialized)\n\n"
    }
}
