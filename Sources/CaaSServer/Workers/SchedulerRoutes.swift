import CaaSModel
import CaaSStore
import Foundation

/// The scheduler's API: rollback on demand (tenants), and the job queue for the system
/// administrator (failed jobs, retry).
enum SchedulerRoutes {
    static let all: [APIRoute] = [
        APIRoute("POST", "/v1/apps/{app_id}/rollback", action: "apps.rollback", access: .tenant(.operate),
                 ids: ["app_id": .application], handler: rollback),
        APIRoute("GET", "/v1/admin/jobs", action: "admin.jobs.list", access: .system, query: ["state", "kind", "limit", "cursor"],
                 handler: listJobs),
        APIRoute("POST", "/v1/admin/jobs/{job_id}/retry", action: "admin.jobs.retry", access: .system, handler: retryJob),
    ]

    /// Rollouts of the application's services go back to their previous generation. `202`: the
    /// reconciler does the work; the deployment record shows progress and outcome.
    static func rollback(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("app_id")
        let scope = try context.tenantScope()
        let timeout = TimeInterval(context.plane.resources.rolloutDeadlineSeconds)
        let services = try await context.store.transaction(scope) { try $0.requestRollback(applicationID: id, timeout: timeout) }
        var response = APIResponse.json(.object([
            "application_id": .string(id),
            "services": .array(services.map(JSONValue.string)),
            "status": .string("rolling_back"),
        ]), status: 202)
        response.auditTarget = id
        return response
    }

    /// `limit` as every list takes it: 1 to 500 (default 50); anything else is 400 naming it.
    static func jobsLimit(_ text: String?) throws -> Int {
        guard let text else { return 50 }
        guard let value = Int(text), (1...PageRequest.maximumLimit).contains(value) else {
            throw APIError.badRequest("limit must be an integer from 1 to \(PageRequest.maximumLimit)", pointer: "limit")
        }
        return value
    }

    /// The job list's cursor is the last job id of the previous page; empty is the first page.
    static func jobsCursor(_ text: String?) throws -> Int64? {
        guard let text, !text.isEmpty else { return nil }
        guard let value = Int64(text), value > 0 else {
            throw APIError.badRequest("cursor is not one this server issued", pointer: "cursor", type: "invalid-cursor")
        }
        return value
    }

    static func listJobs(_ context: APIContext) async throws -> APIResponse {
        let state = try context.queryChoice("state", JobState.allCases.map(\.rawValue)).flatMap(JobState.init(rawValue:))
        let kind = try context.queryText("kind", maxLength: 100)
        let limit = try jobsLimit(context.request.query["limit"])
        let cursor = try jobsCursor(context.request.query["cursor"])
        let rows = try await context.store.systemTransaction { try $0.jobs(state: state, kind: kind, limit: limit + 1, before: cursor) }
        let page = Array(rows.prefix(limit))
        let next: JSONValue = rows.count > limit ? .string(String(page.last!.id)) : .null
        return .json(.object(["items": .array(page.map(view)), "next_cursor": next]))
    }

    static func retryJob(_ context: APIContext) async throws -> APIResponse {
        let text = context.parameter("job_id")
        guard let id = Int64(text), id > 0 else { throw APIError.notFound("job", text) }
        guard let job = try await context.store.systemTransaction({ try $0.retryJob(id) }) else {
            throw APIError.notFound("job", text)
        }
        var response = APIResponse.json(view(job), status: 202)
        response.auditTarget = text
        return response
    }

    static func view(_ job: JobRecord) -> JSONValue {
        func date(_ value: Date?) -> JSONValue { value.map { .string(RFC3339.format($0)) } ?? .null }
        let payload = (try? JSONParser.parse(Array(job.payload.utf8))) ?? .object([:])
        return .object([
            "id": .string(String(job.id)),
            "kind": .string(job.kind.rawValue),
            "state": .string(job.state.rawValue),
            "payload": payload,
            "tenant_id": job.tenantID.map(JSONValue.string) ?? .null,
            "dedupe_key": job.dedupeKey.map(JSONValue.string) ?? .null,
            "attempts": .integer(Int64(job.attempts)),
            "max_attempts": .integer(Int64(job.maxAttempts)),
            "last_error": job.lastError.map(JSONValue.string) ?? .null,
            "run_after": date(job.runAfter),
            "locked_by": job.lockedBy.map(JSONValue.string) ?? .null,
            "locked_until": date(job.lockedUntil),
            "created_at": date(job.createdAt),
            "finished_at": date(job.finishedAt),
        ])
    }
}
