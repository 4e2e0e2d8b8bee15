import CaaSModel
import CaaSStore
import Foundation

/// The tenant's image catalog: repositories and tags with digests, searchable by name.
enum ImageRoutes {
    static let createSchema = JSONSchema.object(
        properties: ["repository": .string(maxLength: 255), "tag": .string(maxLength: 128), "digest": .string(maxLength: 100),
                     "description": .string(maxLength: 1000)],
        required: ["repository"])
    static let patchSchema = JSONSchema.object(properties: [
        "digest": .nullable(.string(maxLength: 100)), "description": .string(maxLength: 1000),
    ])

    static let all: [APIRoute] = [
        APIRoute("POST", "/v1/images", action: "images.create", access: .tenant(.operate), handler: create),
        APIRoute("GET", "/v1/images", action: "images.list", access: .tenant(.read), query: ["limit", "cursor", "q", "repository"], handler: list),
        APIRoute("GET", "/v1/images/{image_id}", action: "images.get", access: .tenant(.read), ids: ["image_id": .image], handler: get),
        APIRoute("PATCH", "/v1/images/{image_id}", action: "images.update", access: .tenant(.operate), ids: ["image_id": .image], handler: update),
        APIRoute("DELETE", "/v1/images/{image_id}", action: "images.delete", access: .tenant(.operate), ids: ["image_id": .image], handler: delete),
    ]

    /// Docker reference rules, simplified: a repository is lower-case path components of
    /// `[a-z0-9]` joined by `.`, `_`, `__` or `-`, separated by `/`, optionally after a registry
    /// host[:port]; a tag is `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`; a digest is `algorithm:hex`.
    static func repositoryProblem(_ text: String) -> String? {
        var components = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard !text.isEmpty, !components.contains("") else { return "repository must be like library/tomcat or registry.example.com:5000/team/app" }
        if components.count > 1, components[0].contains(".") || components[0].contains(":") || components[0] == "localhost" {
            let host = components.removeFirst()
            let hostParts = host.split(separator: ":", omittingEmptySubsequences: false)
            guard hostParts.count <= 2, hostParts[0].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") }),
                  hostParts.count == 1 || (Int(hostParts[1]).map { (1...65535).contains($0) } ?? false) else {
                return "the registry host \(host) is not valid"
            }
        }
        for component in components {
            guard let first = component.first, let last = component.last,
                  first.isASCII && (first.isLowercase || first.isNumber), last.isASCII && (last.isLowercase || last.isNumber),
                  component.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-") }) else {
                return "repository path components are lower-case letters, digits and . _ - (starting and ending with a letter or digit)"
            }
        }
        return nil
    }

    static func tagProblem(_ text: String) -> String? {
        guard let first = text.first, first.isASCII, first.isLetter || first.isNumber || first == "_",
              text.count <= 128, text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "." || $0 == "-") }) else {
            return "tags are up to 128 characters of letters, digits, _ . - (not starting with . or -)"
        }
        return nil
    }

    static func digestProblem(_ text: String) -> String? {
        let parts = text.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, parts[0].allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber) }),
              parts[1].count >= 32, parts[1].allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            return "a digest is algorithm:hex, e.g. sha256:<64 hex digits>"
        }
        return nil
    }

    /// Checks an image reference written in a request (`tomcat:8.5`, `repo@sha256:…`).
    static func referenceProblem(_ text: String) -> String? {
        var rest = Substring(text)
        if let at = rest.firstIndex(of: "@") {
            if let problem = digestProblem(String(rest[rest.index(after: at)...])) { return problem }
            rest = rest[..<at]
        }
        if let colon = rest.lastIndex(of: ":"), !rest[rest.index(after: colon)...].contains("/") {
            if let problem = tagProblem(String(rest[rest.index(after: colon)...])) { return problem }
            rest = rest[..<colon]
        }
        return repositoryProblem(String(rest))
    }

    static func create(_ context: APIContext) async throws -> APIResponse {
        let body = try context.body(createSchema)
        let repository = body["repository"]!.stringValue!
        let tag = body["tag"]?.stringValue ?? "latest"
        let digest = body["digest"]?.stringValue
        var errors: [FieldError] = []
        if let problem = repositoryProblem(repository) { errors.append(FieldError(pointer: "/repository", detail: problem)) }
        if let problem = tagProblem(tag) { errors.append(FieldError(pointer: "/tag", detail: problem)) }
        if let digest, let problem = digestProblem(digest) { errors.append(FieldError(pointer: "/digest", detail: problem)) }
        if !errors.isEmpty { throw APIError.invalidBody(errors) }
        let new = NewImage(id: Identifier.make(.image), repository: repository, tag: tag, digest: digest,
                           description: body["description"]?.stringValue ?? "")
        let image = try await context.inTenant { try $0.createImage(new) }
        return .resource(ResourceViews.image(image), version: image.version, id: image.id, status: 201, location: "/v1/images/\(image.id)")
    }

    static func list(_ context: APIContext) async throws -> APIResponse {
        let page = try context.page(keyCount: 3)
        let query = try context.queryText("q", maxLength: 255)
        let repository = try context.queryText("repository", maxLength: 255)
        let rows = try await context.inTenant { try $0.images(query: query, repository: repository, limit: page.limit, after: page.after) }
        return .json(Page(fetched: rows, limit: page.limit, key: { $0.1 }, render: { ResourceViews.image($0.0) }).json)
    }

    static func get(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("image_id")
        guard let image = try await context.inTenant({ try $0.image(id) }) else { throw APIError.notFound("image", id) }
        return .resource(ResourceViews.image(image), version: image.version, id: id)
    }

    static func update(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("image_id")
        let patch = try context.body(patchSchema)
        if let digest = patch["digest"]?.stringValue, let problem = digestProblem(digest) {
            throw APIError.invalidBody([FieldError(pointer: "/digest", detail: problem)])
        }
        let expected = try context.expectedVersion()
        let digest: String?? = patch["digest"].map { $0.stringValue }
        let image = try await context.inTenant {
            try $0.updateImage(id, expectedVersion: expected, digest: digest, description: patch["description"]?.stringValue)
        }
        return .resource(ResourceViews.image(image), version: image.version, id: id)
    }

    static func delete(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("image_id")
        let expected = try context.expectedVersion()
        try await context.inTenant { try $0.deleteImage(id, expectedVersion: expected) }
        var response = APIResponse.noContent()
        response.auditTarget = id
        return response
    }
}
