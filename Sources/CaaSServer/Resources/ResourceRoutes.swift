import CaaSModel
import CaaSStore
import Foundation

/// Every route of the resource API, in the order openapi.yaml lists them.
enum ResourceRoutes {
    static let all: [APIRoute] = ClusterRoutes.all + NodeRoutes.all + TemplateRoutes.all + ImageRoutes.all
        + ApplicationRoutes.all + ServiceRoutes.all + ContainerRoutes.all + DeploymentRoutes.all
}

/// Helpers every resource route uses.
extension APIContext {
    /// `force=true|false` (absent: false).
    func forceFlag() throws -> Bool {
        try queryChoice("force", ["true", "false"]) == "true"
    }

    /// The body of a POST that takes none: empty, or an empty JSON object.
    func emptyBody() throws {
        if !request.body.isEmpty { _ = try body(.object(properties: [:])) }
    }

    var quotas: QuotaDefaults { settings.quotaDefaults }
    var resources: ResourceSettings { plane.resources }
    var rollout: RolloutSettings { RolloutSettings(deadlineSeconds: plane.resources.rolloutDeadlineSeconds) }

    /// The caller's token name (template authors).
    var authorName: String { principal?.tokenName ?? "unknown" }

    /// An id-shaped query parameter: a malformed one matches nothing, so it is a 400 naming it.
    func queryID(_ name: String, kind: IdentifierKind) throws -> String? {
        guard let value = request.query[name] else { return nil }
        guard Identifier.isValid(value, kind: kind) else {
            throw APIError.badRequest("\(name) must be an id like \(kind.rawValue)_…", pointer: name)
        }
        return value
    }
}

extension APIResponse {
    /// A resource answer with its ETag, audit target and (for creations) Location.
    static func resource(_ value: JSONValue, version: Int64, id: String, status: Int = 200, location: String? = nil) -> APIResponse {
        var response = APIResponse.json(value, status: status, etag: version)
        response.auditTarget = id
        if let location { response.setHeader("Location", location) }
        return response
    }
}

/// Labels are string maps with bounded keys and values.
enum LabelRules {
    static let maximumCount = 64

    static func check(_ value: JSONValue?, pointer: String) -> [FieldError] {
        guard let members = value?.objectValue else { return [] }
        var errors: [FieldError] = []
        if members.count > maximumCount { errors.append(FieldError(pointer: pointer, detail: "more than \(maximumCount) labels")) }
        for key in members.keys.sorted() {
            // Counted in Unicode code points, as JSON Schema's maxLength counts (openapi.yaml says so).
            if key.isEmpty || key.unicodeScalars.count > 128 || key.unicodeScalars.contains(where: { $0.properties.isWhitespace }) {
                errors.append(FieldError(pointer: pointer + "/" + key, detail: "label keys are 1 to 128 characters without white space"))
            }
            if let text = members[key]?.stringValue, text.unicodeScalars.count > 256 {
                errors.append(FieldError(pointer: pointer + "/" + key, detail: "label values are at most 256 characters"))
            }
        }
        return errors
    }

    /// A merge patch of labels: an object whose members are strings (set) or null (remove).
    static func checkPatch(_ value: JSONValue?, pointer: String) -> [FieldError] {
        guard let value, value != .null else { return [] }
        guard case .object(let members) = value else { return [FieldError(pointer: pointer, detail: "expected an object of strings (null removes one)")] }
        let wrong = members.keys.sorted().filter { members[$0]!.stringValue == nil && members[$0]! != .null }
        if !wrong.isEmpty { return wrong.map { FieldError(pointer: pointer + "/" + $0, detail: "expected a string or null") } }
        return check(.object(members.filter { $0.value != .null }), pointer: pointer)
    }

    static func map(_ value: JSONValue?) -> [String: String]? {
        value?.objectValue?.compactMapValues(\.stringValue)
    }
}
