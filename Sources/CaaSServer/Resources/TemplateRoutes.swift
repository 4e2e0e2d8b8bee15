import CaaSCompose
import CaaSModel
import CaaSStore
import Foundation

/// Compose templates with immutable numbered versions, validation and diffs.
enum TemplateRoutes {
    static let composeText = JSONSchema.string(maxLength: 512 * 1024)
    static let createSchema = JSONSchema.object(
        properties: ["name": .name, "description": .string(maxLength: 1000), "compose": composeText,
                     "version_description": .string(maxLength: 1000)],
        required: ["name", "compose"])
    static let patchSchema = JSONSchema.object(properties: ["name": .name, "description": .string(maxLength: 1000)])
    static let versionSchema = JSONSchema.object(
        properties: ["compose": composeText, "description": .string(maxLength: 1000)], required: ["compose"])
    static let validateSchema = JSONSchema.object(
        properties: ["compose": composeText, "variables": .stringMap], required: ["compose"])

    static let all: [APIRoute] = [
        APIRoute("POST", "/v1/templates/validate", action: "templates.validate", access: .tenant(.read), handler: validate),
        APIRoute("POST", "/v1/templates", action: "templates.create", access: .tenant(.operate), handler: create),
        APIRoute("GET", "/v1/templates", action: "templates.list", access: .tenant(.read), query: ["limit", "cursor", "name_prefix"], handler: list),
        APIRoute("GET", "/v1/templates/{template_id}", action: "templates.get", access: .tenant(.read), ids: ["template_id": .template], handler: get),
        APIRoute("PATCH", "/v1/templates/{template_id}", action: "templates.update", access: .tenant(.operate), ids: ["template_id": .template], handler: update),
        APIRoute("DELETE", "/v1/templates/{template_id}", action: "templates.delete", access: .tenant(.operate), ids: ["template_id": .template], handler: delete),
        APIRoute("POST", "/v1/templates/{template_id}/versions", action: "templates.versions.create", access: .tenant(.operate), ids: ["template_id": .template], handler: addVersion),
        APIRoute("GET", "/v1/templates/{template_id}/versions", action: "templates.versions.list", access: .tenant(.read), query: ["limit", "cursor"], ids: ["template_id": .template], handler: versions),
        APIRoute("GET", "/v1/templates/{template_id}/versions/{number}", action: "templates.versions.get", access: .tenant(.read), ids: ["template_id": .template], handler: version),
        APIRoute("DELETE", "/v1/templates/{template_id}/versions/{number}", action: "templates.versions.delete", access: .tenant(.operate), ids: ["template_id": .template], handler: deleteVersion),
        APIRoute("GET", "/v1/templates/{template_id}/diff", action: "templates.diff", access: .tenant(.read), query: ["from", "to", "context"], ids: ["template_id": .template], handler: diff),
    ]

    static func number(_ text: String?, name: String) throws -> Int {
        guard let text, let value = Int(text), value >= 1, value <= Int(Int32.max) else {
            throw APIError.badRequest("\(name) must be a version number (1, 2, …)", pointer: name)
        }
        return value
    }

    static func pathNumber(_ context: APIContext) throws -> Int {
        let text = context.parameter("number")
        guard let value = Int(text), value >= 1, value <= Int(Int32.max) else {
            throw APIError.notFound("template version", "\(context.parameter("template_id"))/versions/\(text)")
        }
        return value
    }

    static func validate(_ context: APIContext) async throws -> APIResponse {
        let body = try context.body(validateSchema)
        let variables = LabelRules.map(body["variables"]) ?? [:]
        let text = body["compose"]!.stringValue!
        let policy = try await context.inTenant { try $0.tenant().hostPolicy }
        let result = ComposeParser.parse(text, variables: variables).checked(against: policy)
        // Shown as a deployment would store it: secret values (and what they are interpolated into) masked.
        let secretValues = variables.filter { SecretNames.isSecret($0.key) }.map(\.value)
        return .json(.object([
            "valid": .bool(result.isValid),
            "spec": result.spec.map { ResourceViews.spec($0, secretValues: secretValues) } ?? .null,
            "errors": .array(result.errors.map(ResourceViews.diagnostic)),
            "warnings": .array(result.warnings.map(ResourceViews.diagnostic)),
            "variables": ResourceViews.variables(result.variables, secretLines: ComposeRedaction.redact(text).lines),
            "missing_variables": .array(result.missingVariables.map(JSONValue.string)),
        ]))
    }

    /// A version ready for the store: checked, its literal secret values sealed for the template.
    static func newVersion(_ text: String, description: String, templateID: String, context: APIContext) throws -> NewTemplateVersion {
        var version = try ComposeChecks.templateVersion(text, description: description, author: context.authorName)
        let foreign = TemplateSecrets.foreignSeals(in: text)
        if !foreign.isEmpty { throw APIError.sealedValuesInTemplate(foreign) }
        let secrets = try TemplateSecrets(key: context.plane.secretsKey, tenantID: try context.tenantScope().tenantID, templateID: templateID)
        version.compose = try secrets.sealText(text)
        return version
    }

    static func create(_ context: APIContext) async throws -> APIResponse {
        let body = try context.body(createSchema)
        let id = Identifier.make(.template)
        let first = try newVersion(body["compose"]!.stringValue!, description: body["version_description"]?.stringValue ?? "",
                                   templateID: id, context: context)
        let name = body["name"]!.stringValue!
        let description = body["description"]?.stringValue ?? ""
        let (template, version) = try await context.inTenant { try $0.createTemplate(id: id, name: name, description: description, first: first) }
        guard case .object(var members) = ResourceViews.template(template) else { throw APIError.internalError(requestID: context.requestID) }
        members["current_version"] = ResourceViews.templateVersion(version)
        return .resource(.object(members), version: template.version, id: id, status: 201, location: "/v1/templates/\(id)")
    }

    static func list(_ context: APIContext) async throws -> APIResponse {
        let page = try context.page(keyCount: 2)
        let prefix = try context.queryText("name_prefix", maxLength: 63)
        let rows = try await context.inTenant { try $0.templates(namePrefix: prefix, limit: page.limit, after: page.after) }
        return .json(Page(fetched: rows, limit: page.limit, key: { $0.1 }, render: { ResourceViews.template($0.0) }).json)
    }

    static func get(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("template_id")
        guard let template = try await context.inTenant({ try $0.template(id) }) else { throw APIError.notFound("template", id) }
        return .resource(ResourceViews.template(template), version: template.version, id: id)
    }

    static func update(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("template_id")
        let patch = try context.body(patchSchema)
        let expected = try context.expectedVersion()
        let template = try await context.inTenant {
            try $0.updateTemplate(id, expectedVersion: expected, name: patch["name"]?.stringValue, description: patch["description"]?.stringValue)
        }
        return .resource(ResourceViews.template(template), version: template.version, id: id)
    }

    static func delete(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("template_id")
        let expected = try context.expectedVersion()
        try await context.inTenant { try $0.deleteTemplate(id, expectedVersion: expected) }
        var response = APIResponse.noContent()
        response.auditTarget = id
        return response
    }

    static func addVersion(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("template_id")
        let body = try context.body(versionSchema)
        let expected = try context.expectedVersion()
        let new = try newVersion(body["compose"]!.stringValue!, description: body["description"]?.stringValue ?? "",
                                 templateID: id, context: context)
        let version = try await context.inTenant { try $0.addTemplateVersion(id, expectedVersion: expected, new) }
        var response = APIResponse.json(ResourceViews.templateVersion(version), status: 201)
        response.auditTarget = id
        response.setHeader("Location", "/v1/templates/\(id)/versions/\(version.number)")
        return response
    }

    static func versions(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("template_id")
        let page = try context.page(keyCount: 1)
        let after = try page.after.map { try number($0[0], name: "cursor") }
        let rows = try await context.inTenant { tx -> [TemplateVersionRecord] in
            guard try tx.template(id) != nil else { throw StoreError.notFound(kind: "template", id: id) }
            return try tx.templateVersions(id, limit: page.limit, after: after)
        }
        return .json(Page(fetched: rows, limit: page.limit, key: { [String($0.number)] },
                          render: { ResourceViews.templateVersion($0, includeCompose: false) }).json)
    }

    static func version(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("template_id")
        let number = try pathNumber(context)
        guard let version = try await context.inTenant({ try $0.templateVersion(id, number: number) }) else {
            throw APIError.notFound("template version", "\(id)/versions/\(number)")
        }
        return .json(ResourceViews.templateVersion(version))
    }

    static func deleteVersion(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("template_id")
        let number = try pathNumber(context)
        try await context.inTenant { try $0.deleteTemplateVersion(id, number: number) }
        var response = APIResponse.noContent()
        response.auditTarget = id
        return response
    }

    /// `from` and `to` default to the newest version and the one before it.
    static func diff(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("template_id")
        let fromParameter = try context.request.query["from"].map { try number($0, name: "from") }
        let toParameter = try context.request.query["to"].map { try number($0, name: "to") }
        var lines = 3
        if let text = context.request.query["context"] {
            guard let value = Int(text), (0...100).contains(value) else { throw APIError.badRequest("context must be 0 to 100", pointer: "context") }
            lines = value
        }
        let (old, new) = try await context.inTenant { tx -> (TemplateVersionRecord, TemplateVersionRecord) in
            guard let template = try tx.template(id) else { throw StoreError.notFound(kind: "template", id: id) }
            let to = toParameter ?? template.latestVersion
            let earlier = try tx.templateVersions(id, limit: 1000, after: nil).map(\.number).last { $0 < to }
            let from = fromParameter ?? earlier ?? to
            guard let old = try tx.templateVersion(id, number: from) else {
                throw StoreError.notFound(kind: "template version", id: "\(id)/versions/\(from)")
            }
            guard let new = try tx.templateVersion(id, number: to) else {
                throw StoreError.notFound(kind: "template version", id: "\(id)/versions/\(to)")
            }
            return (old, new)
        }
        let from = old.number, to = new.number
        let text = TextDiff.unified(old: ResourceViews.compose(old.compose), new: ResourceViews.compose(new.compose), oldName: "\(id)/versions/\(from)",
                                    newName: "\(id)/versions/\(to)", context: lines)
        return .json(.object([
            "template_id": .string(id), "from": .integer(Int64(from)), "to": .integer(Int64(to)),
            "identical": .bool(text.isEmpty), "diff": .string(text),
        ]))
    }
}
