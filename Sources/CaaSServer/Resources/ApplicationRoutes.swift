import CaaSCompose
import CaaSModel
import CaaSStore
import Foundation

/// Applications: deployed into a cluster from a template version plus variables, from inline
/// compose text, or from one image. Every change of what runs is a new generation with its
/// deployment record. The routes record desired state only (and queue the application's
/// reconcile); the scheduler's workers place, start and replace containers.
enum ApplicationRoutes {
    static let imageProperties: [String: JSONSchema] = [
        "image_id": .string(maxLength: 40), "image": .string(maxLength: 512), "service_name": .name,
        "replicas": .integer(minimum: 0, maximum: Int64(SpecBounds.replicas.upperBound)), "ports": .array(.integer(minimum: 1, maximum: 65535), maxItems: 100),
        "environment": .stringMap,
    ]
    static let createSchema = JSONSchema.object(
        properties: [
            "name": .name, "cluster_id": .string(maxLength: 40), "description": .string(maxLength: 1000),
            "template_id": .string(maxLength: 40), "template_version": .integer(minimum: 1, maximum: Int64(Int32.max)),
            "compose": TemplateRoutes.composeText, "variables": .stringMap,
        ].merging(imageProperties) { a, _ in a },
        required: ["name", "cluster_id"])
    static let updateSchema = JSONSchema.object(properties: [
        "description": .string(maxLength: 1000), "template_id": .string(maxLength: 40),
        "template_version": .integer(minimum: 1, maximum: Int64(Int32.max)), "compose": TemplateRoutes.composeText,
        "variables": .stringMap,
    ].merging(imageProperties) { a, _ in a })
    static let patchSchema = JSONSchema.object(properties: [
        "description": .string(maxLength: 1000), "template_version": .integer(minimum: 1, maximum: Int64(Int32.max)),
        "variables": .nullable(.any),
    ])

    static let all: [APIRoute] = [
        APIRoute("POST", "/v1/apps", action: "apps.create", access: .tenant(.operate), handler: create),
        APIRoute("GET", "/v1/apps", action: "apps.list", access: .tenant(.read), query: ["limit", "cursor", "cluster_id", "status", "template_id", "name_prefix"], handler: list),
        APIRoute("GET", "/v1/apps/{app_id}", action: "apps.get", access: .tenant(.read), ids: ["app_id": .application], handler: get),
        APIRoute("PATCH", "/v1/apps/{app_id}", action: "apps.update", access: .tenant(.operate), ids: ["app_id": .application], handler: patch),
        APIRoute("DELETE", "/v1/apps/{app_id}", action: "apps.delete", access: .tenant(.operate), query: ["volumes"], ids: ["app_id": .application], handler: delete),
        APIRoute("POST", "/v1/apps/{app_id}/update", action: "apps.redeploy", access: .tenant(.operate), ids: ["app_id": .application], handler: update),
        APIRoute("GET", "/v1/apps/{app_id}/services", action: "apps.services.list", access: .tenant(.read), query: ["limit", "cursor"], ids: ["app_id": .application], handler: services),
        APIRoute("GET", "/v1/apps/{app_id}/deployments", action: "apps.deployments.list", access: .tenant(.read), query: ["limit", "cursor", "status"], ids: ["app_id": .application], handler: deployments),
    ]

    // MARK: Sources

    /// What a create or update asks to deploy, before parsing.
    enum Request {
        case template(id: String, version: Int?)
        case compose(String)
        case image(imageID: String?, reference: String?)
        /// Update only: the same source as now, with new variables.
        case unchanged
    }

    static func sourceRequest(_ body: JSONValue, allowUnchanged: Bool) throws -> Request {
        let hasTemplate = body["template_id"] != nil || (body["template_version"] != nil && !allowUnchanged)
        let hasCompose = body["compose"] != nil
        let hasImage = body["image_id"] != nil || body["image"] != nil
        let count = [hasTemplate, hasCompose, hasImage].filter { $0 }.count
        if count > 1 || (count == 0 && !allowUnchanged) {
            throw APIError.invalidBody([FieldError(pointer: "", detail: "give exactly one source: template_id (with template_version), compose, or image_id / image")])
        }
        if !hasImage {
            for key in ["service_name", "replicas", "ports", "environment"] where body[key] != nil && !(allowUnchanged && key == "replicas") {
                throw APIError.invalidBody([FieldError(pointer: "/" + key, detail: "\(key) applies to applications created from an image")])
            }
        }
        if hasTemplate {
            guard let id = body["template_id"]?.stringValue, Identifier.isValid(id, kind: .template) else {
                throw APIError.invalidBody([FieldError(pointer: "/template_id", detail: "must be a template id (tpl_…)")])
            }
            return .template(id: id, version: body["template_version"]?.integerValue.map(Int.init))
        }
        if let text = body["compose"]?.stringValue { return .compose(text) }
        if hasImage {
            if body["image_id"] != nil && body["image"] != nil {
                throw APIError.invalidBody([FieldError(pointer: "/image", detail: "give image_id or image, not both")])
            }
            if let id = body["image_id"]?.stringValue, !Identifier.isValid(id, kind: .image) {
                throw APIError.invalidBody([FieldError(pointer: "/image_id", detail: "must be an image id (img_…)")])
            }
            if let reference = body["image"]?.stringValue, let problem = ImageRoutes.referenceProblem(reference) {
                throw APIError.invalidBody([FieldError(pointer: "/image", detail: problem)])
            }
            return .image(imageID: body["image_id"]?.stringValue, reference: body["image"]?.stringValue)
        }
        if body["template_version"] != nil { return .template(id: "", version: body["template_version"]?.integerValue.map(Int.init)) }
        return .unchanged
    }

    /// Turns a request into a definition ready for the store: text fetched, parsed with the
    /// variables, secrets sealed for application `applicationID`. `current` is the application
    /// being updated (nil on create).
    static func definition(_ request: Request, body: JSONValue, variables: [String: String], current: ApplicationRecord?,
                           applicationID: String, context: APIContext) async throws -> ApplicationDefinition {
        let secrets = try ApplicationSecrets(key: context.plane.secretsKey, tenantID: try context.tenantScope().tenantID,
                                             applicationID: applicationID)
        // Checked on every create and update: a policy made stricter leaves running applications
        // alone, and refuses their next change until it fits.
        let policy = try await context.inTenant { try $0.tenant().hostPolicy }
        var definition: ApplicationDefinition
        switch request {
        case .template(var templateID, let number):
            if templateID.isEmpty {
                guard let current, current.source == .template, let id = current.templateID else {
                    // The body is well-formed; what it asks does not fit this application: 422.
                    throw APIError.unprocessable([FieldError(pointer: "/template_version", detail: "this application was not made from a template: give template_id too")])
                }
                templateID = id
            }
            let id = templateID
            let version = try await context.inTenant { tx -> TemplateVersionRecord in
                guard let template = try tx.template(id) else {
                    throw APIError.unprocessable("no template \(id)", pointer: "/template_id")
                }
                let wanted = number ?? template.latestVersion
                guard let version = try tx.templateVersion(id, number: wanted) else {
                    throw APIError.unprocessable("template \(template.name) has no version \(wanted)", pointer: "/template_version")
                }
                return version
            }
            // The template's seals opened: the application seals the values as its own below.
            let text = try TemplateSecrets(key: context.plane.secretsKey, tenantID: try context.tenantScope().tenantID, templateID: id)
                .openText(version.compose)
            let spec = try ComposeChecks.deployableSpec(text, variables: variables, policy: policy, pointer: "/template_version")
            definition = ApplicationDefinition(source: .template, templateID: id, templateVersion: version.number,
                                               compose: text, spec: spec)
        case .compose(let text):
            let spec = try ComposeChecks.deployableSpec(text, variables: variables, policy: policy, pointer: "/compose")
            definition = ApplicationDefinition(source: .compose, compose: text, spec: spec)
        case .image(let imageID, let reference):
            var image = reference
            if let imageID {
                guard let record = try await context.inTenant({ try $0.image(imageID) }) else {
                    throw APIError.unprocessable("no image \(imageID) in the catalog", pointer: "/image_id")
                }
                image = record.reference
            }
            let previous = current?.spec.services.first
            let name = body["service_name"]?.stringValue ?? previous?.name ?? serviceName(for: image ?? "app")
            var service = previous ?? ServiceSpec(name: name, image: image ?? "")
            service.name = name
            service.image = image ?? service.image
            if let replicas = body["replicas"]?.integerValue { service.replicas = Int(replicas) } else if previous == nil { service.replicas = 1 }
            if case .array(let ports)? = body["ports"] {
                service.ports = ports.compactMap(\.integerValue).map { PortMapping(target: PortRange(Int($0))) }
            }
            if let environment = LabelRules.map(body["environment"]) {
                service.environment = environment.keys.sorted().map { EnvironmentVariable(name: $0, value: environment[$0]) }
            }
            definition = ApplicationDefinition(source: .image, imageID: imageID ?? (reference == nil ? current?.imageID : nil),
                                               spec: AppSpec(services: [service]))
        case .unchanged:
            guard let current else { throw APIError.internalError(requestID: context.requestID) }
            switch current.source {
            case .template, .compose:
                if body["replicas"] != nil {
                    throw APIError.invalidBody([FieldError(pointer: "/replicas", detail: "replicas applies to applications from an image; scale a service instead")])
                }
                let text = current.compose ?? ""
                let spec = try ComposeChecks.deployableSpec(text, variables: variables, policy: policy, pointer: "/variables")
                definition = ApplicationDefinition(source: current.source, templateID: current.templateID,
                                                   templateVersion: current.templateVersion, compose: text, spec: spec)
            case .image:
                var spec = current.spec
                if let replicas = body["replicas"]?.integerValue, !spec.services.isEmpty { spec.services[0].replicas = Int(replicas) }
                definition = ApplicationDefinition(source: .image, imageID: current.imageID, spec: spec)
            }
        }
        let foreign = secrets.foreignSeals(in: definition.spec)
        if !foreign.isEmpty {
            throw APIError.foreignSeals(foreign, pointer: { seal in
                if let variable = variables.keys.sorted().first(where: { variables[$0] == seal.value }) { return "/variables/\(variable)" }
                switch request {
                case .compose: return "/compose"
                case .template: return "/template_id"
                case .image: return "/environment/\(seal.name)"
                case .unchanged: return current?.source == .image ? "/environment/\(seal.name)" : "/compose"
                }
            })
        }
        let secretValues = variables.filter { SecretNames.isSecret($0.key) }.map(\.value)
        definition.spec = try secrets.seal(definition.spec, secretValues: secretValues)
        let leaks = ApplicationSecrets.leaks(in: definition.spec, variables: variables)
        if !leaks.isEmpty {
            throw APIError.unprocessable(
                "secret variable\(leaks.count == 1 ? "" : "s") \(leaks.joined(separator: ", ")) would be stored unencrypted: secrets may be used in environment values only",
                pointer: "/variables/\(leaks[0])")
        }
        definition.variablesJSON = try secrets.sealVariables(variables)
        definition.compose = try definition.compose.map(secrets.sealText)
        return definition
    }

    /// A service name from an image reference: `registry:5000/team/tomcat:8.5` → `tomcat`.
    static func serviceName(for image: String) -> String {
        var base = image.split(separator: "@").first.map(String.init) ?? image
        base = base.split(separator: "/").last.map(String.init) ?? base
        base = base.split(separator: ":").first.map(String.init) ?? base
        let cleaned = String(base.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }.prefix(63))
            .trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        return cleaned.isEmpty ? "app" : cleaned
    }

    static func accepted(_ app: ApplicationRecord, _ deployment: DeploymentRecord?, status: Int) -> APIResponse {
        .resource(ResourceViews.application(app, deployment: deployment), version: app.version, id: app.id, status: status,
                  location: status == 202 ? "/v1/apps/\(app.id)" : nil)
    }

    // MARK: Handlers

    static func create(_ context: APIContext) async throws -> APIResponse {
        let body = try context.body(createSchema)
        guard let clusterID = body["cluster_id"]?.stringValue, Identifier.isValid(clusterID, kind: .cluster) else {
            throw APIError.invalidBody([FieldError(pointer: "/cluster_id", detail: "must be a cluster id (clu_…)")])
        }
        let request = try sourceRequest(body, allowUnchanged: false)
        if case .image = request, body["variables"] != nil {
            throw APIError.invalidBody([FieldError(pointer: "/variables", detail: "applications from an image take environment, not variables")])
        }
        let variables = LabelRules.map(body["variables"]) ?? [:]
        let id = Identifier.make(.application)
        let definition = try await definition(request, body: body, variables: variables, current: nil, applicationID: id, context: context)
        let new = NewApplication(id: id, clusterID: clusterID, name: body["name"]!.stringValue!,
                                 description: body["description"]?.stringValue ?? "", definition: definition)
        let quotas = context.quotas
        let rollout = context.rollout
        let (app, deployment) = try await context.inTenant { try $0.createApplication(new, quotas: quotas, rollout: rollout) }
        return accepted(app, deployment, status: 202)
    }

    static func list(_ context: APIContext) async throws -> APIResponse {
        let page = try context.page(keyCount: 2)
        let filter = ApplicationFilter(
            clusterID: try context.queryID("cluster_id", kind: .cluster),
            status: try context.queryChoice("status", ["pending", "deploying", "running", "degraded", "failed", "deleting"]),
            templateID: try context.queryID("template_id", kind: .template),
            namePrefix: try context.queryText("name_prefix", maxLength: 63))
        let rows = try await context.inTenant { try $0.applications(filter: filter, limit: page.limit, after: page.after) }
        return .json(Page(fetched: rows, limit: page.limit, key: { $0.1 }, render: { ResourceViews.application($0.0) }).json)
    }

    static func get(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("app_id")
        guard let app = try await context.inTenant({ try $0.application(id) }) else { throw APIError.notFound("application", id) }
        return .resource(ResourceViews.application(app), version: app.version, id: id)
    }

    /// Reads the application, builds the new generation outside any transaction (parsing is
    /// pure), then writes it checking the version read. Without If-Match a concurrent change
    /// simply means another round.
    static func change(_ context: APIContext, build: @escaping @Sendable (ApplicationRecord) async throws -> (String?, ApplicationDefinition?))
        async throws -> APIResponse {
        let id = context.parameter("app_id")
        let expected = try context.expectedVersion()
        let rollout = context.rollout
        var attempts = 0
        while true {
            attempts += 1
            guard let current = try await context.inTenant({ try $0.application(id) }) else { throw APIError.notFound("application", id) }
            if let expected, expected != current.version { throw APIError.preconditionFailed(current: current.version) }
            if current.status == "deleting" { throw APIError.conflict("application \(current.name) is being deleted") }
            let (description, definition) = try await build(current)
            do {
                let (app, deployment) = try await context.inTenant {
                    try $0.updateApplication(id, expectedVersion: current.version, description: description,
                                             definition: definition, rollout: rollout)
                }
                return accepted(app, deployment, status: deployment == nil ? 200 : 202)
            } catch StoreError.versionMismatch(let now) where expected == nil && attempts < 3 {
                context.logger.debug("application changed while updating; again", metadata: ["version": "\(now)"])
                continue
            }
        }
    }

    static func update(_ context: APIContext) async throws -> APIResponse {
        let body = try context.body(updateSchema)
        let request = try sourceRequest(body, allowUnchanged: true)
        let secretsKey = context.plane.secretsKey
        let tenantID = try context.tenantScope().tenantID
        return try await change(context) { current in
            if case .image = request, body["variables"] != nil {
                throw APIError.invalidBody([FieldError(pointer: "/variables", detail: "applications from an image take environment, not variables")])
            }
            let variables = try LabelRules.map(body["variables"]) ?? storedVariables(current, key: secretsKey, tenantID: tenantID)
            let definition = try await definition(request, body: body, variables: variables, current: current, applicationID: current.id,
                                                  context: context)
            return (body["description"]?.stringValue, definition)
        }
    }

    static func patch(_ context: APIContext) async throws -> APIResponse {
        let patch = try context.body(patchSchema)
        if let variables = patch["variables"], variables != .null {
            guard case .object(let members) = variables else {
                throw APIError.invalidBody([FieldError(pointer: "/variables", detail: "expected an object of strings (null removes one)")])
            }
            let wrong = members.keys.sorted().filter { members[$0]!.stringValue == nil && members[$0]! != .null }
            if !wrong.isEmpty {
                throw APIError.invalidBody(wrong.map { FieldError(pointer: "/variables/\($0)", detail: "expected a string or null") })
            }
        }
        let secretsKey = context.plane.secretsKey
        let tenantID = try context.tenantScope().tenantID
        return try await change(context) { current in
            let description = patch["description"]?.stringValue
            guard patch["template_version"] != nil || patch["variables"] != nil else { return (description, nil) }
            let stored = try storedVariables(current, key: secretsKey, tenantID: tenantID)
            let merged = MergePatch.apply(patch["variables"] ?? .object([:]), to: .object(stored.mapValues(JSONValue.string)))
            let variables = merged.objectValue?.compactMapValues(\.stringValue) ?? [:]
            let request: Request = patch["template_version"] != nil
                ? .template(id: "", version: patch["template_version"]?.integerValue.map(Int.init)) : .unchanged
            let definition = try await definition(request, body: .object([:]), variables: variables, current: current,
                                                  applicationID: current.id, context: context)
            return (description, definition)
        }
    }

    /// The application's stored variables, secret ones opened; a seal that does not open (another
    /// secrets key, or sealed before seals were bound to their application) is a 422 naming it.
    static func storedVariables(_ app: ApplicationRecord, key: [UInt8], tenantID: String) throws -> [String: String] {
        let secrets = try ApplicationSecrets(key: key, tenantID: tenantID, applicationID: app.id)
        do {
            return try secrets.openVariables(app.variablesJSON)
        } catch let error as ApplicationSecrets.UnopenableVariable {
            throw APIError.unprocessable(
                "the stored value of secret variable \(error.name) does not open (sealed under another secrets key, or before seals "
                    + "were bound to their application): give every variable again (POST /v1/apps/\(app.id)/update with variables)",
                pointer: "/variables/\(error.name)")
        }
    }

    static func delete(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("app_id")
        let expected = try context.expectedVersion()
        // As `compose down --volumes`: named volumes go only when asked for.
        let removeVolumes = try context.queryChoice("volumes", ["true", "false"]) == "true"
        let outcome = try await context.inTenant { try $0.deleteApplication(id, expectedVersion: expected, removeVolumes: removeVolumes) }
        switch outcome {
        case .deleted:
            var response = APIResponse.noContent()
            response.auditTarget = id
            return response
        case .deleting(let app):
            return .resource(ResourceViews.application(app), version: app.version, id: id, status: 202)
        }
    }

    static func services(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("app_id")
        let page = try context.page(keyCount: 2)
        let rows = try await context.inTenant { tx -> [(ServiceRecord, [String])] in
            guard try tx.application(id) != nil else { throw StoreError.notFound(kind: "application", id: id) }
            return try tx.services(applicationID: id, limit: page.limit, after: page.after)
        }
        return .json(Page(fetched: rows, limit: page.limit, key: { $0.1 }, render: { ResourceViews.service($0.0) }).json)
    }

    static func deployments(_ context: APIContext) async throws -> APIResponse {
        let id = context.parameter("app_id")
        let page = try context.page(keyCount: 2)
        let status = try context.queryChoice("status", ["pending", "in_progress", "succeeded", "failed", "rolled_back", "superseded"])
        let rows = try await context.inTenant { tx -> [(DeploymentRecord, [String])] in
            guard try tx.application(id) != nil else { throw StoreError.notFound(kind: "application", id: id) }
            return try tx.deployments(applicationID: id, status: status, limit: page.limit, after: page.after)
        }
        return .json(Page(fetched: rows, limit: page.limit, key: { $0.1 }, render: { ResourceViews.deployment($0.0) }).json)
    }
}
