import CaaSCompose
import CaaSCrypto
import CaaSModel
import CaaSStore
import Foundation

/// JSON representations of the resources (snake_case, RFC 3339 times, null when absent; secrets
/// masked).
enum ResourceViews {
    static func time(_ date: Date?) -> JSONValue { Views.time(date) }
    static func text(_ value: String?) -> JSONValue { Views.text(value) }
    static func labels(_ labels: [String: String]) -> JSONValue { .object(labels.mapValues(JSONValue.string)) }
    static func int(_ value: Int) -> JSONValue { .integer(Int64(value)) }

    /// Any Encodable value in the API's snake_case form.
    static func encoded<T: Encodable>(_ value: T) -> JSONValue {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(value), let json = try? JSONParser.parse(Array(data)) else { return .null }
        return json
    }

    static func spec(_ spec: AppSpec, secretValues: [String] = []) -> JSONValue {
        encoded(ApplicationSecrets.masked(spec, secretValues: secretValues))
    }

    /// Compose text as answers show it: secret environment values redacted (`ComposeRedaction`).
    static func compose(_ text: String) -> String { ComposeRedaction.redact(text).text }

    static func cluster(_ cluster: ClusterRecord, joinToken: String? = nil) -> JSONValue {
        var members: [String: JSONValue] = [
            "id": .string(cluster.id),
            "name": .string(cluster.name),
            "description": .string(cluster.description),
            "labels": labels(cluster.labels),
            "network_cidr": .string(cluster.networkCIDR),
            "node_subnet_prefix": int(cluster.nodeSubnetPrefix),
            "networking": .string(cluster.networking.rawValue),
            "status": .string(cluster.status),
            "agent_status": .string(cluster.agentStatus),
            "agent_seen_at": time(cluster.agentSeenAt),
            "join_token_created_at": time(cluster.joinTokenCreatedAt),
            "node_count": int(cluster.nodeCount),
            "application_count": int(cluster.applicationCount),
            "version": .integer(cluster.version),
            "created_at": time(cluster.createdAt),
            "updated_at": time(cluster.updatedAt),
        ]
        if let joinToken { members["join_token"] = .string(joinToken) }
        return .object(members)
    }

    static func node(_ node: NodeRecord) -> JSONValue {
        .object([
            "id": .string(node.id),
            "cluster_id": .string(node.clusterID),
            "name": .string(node.name),
            "engine_endpoint": .string(node.engineEndpoint),
            "engine_tls": .bool(node.engineTLS),
            "labels": labels(node.labels),
            "capacity": .object(["cpus": .number(node.capacityCPUs), "memory_bytes": .integer(node.capacityMemory)]),
            "allocated": .object(["cpus": .number(node.allocatedCPUs), "memory_bytes": .integer(node.allocatedMemory)]),
            "status": .string(node.status.rawValue),
            "status_reason": text(node.statusReason),
            "last_heartbeat_at": time(node.lastHeartbeatAt),
            "subnet": .string(node.subnet),
            "container_count": int(node.containerCount),
            "version": .integer(node.version),
            "created_at": time(node.createdAt),
            "updated_at": time(node.updatedAt),
        ])
    }

    static func template(_ template: TemplateRecord) -> JSONValue {
        .object([
            "id": .string(template.id),
            "name": .string(template.name),
            "description": .string(template.description),
            "latest_version": int(template.latestVersion),
            "version_count": int(template.versionCount),
            "version": .integer(template.version),
            "created_at": time(template.createdAt),
            "updated_at": time(template.updatedAt),
        ])
    }

    static func templateVersion(_ version: TemplateVersionRecord, includeCompose: Bool = true) -> JSONValue {
        let redacted = ComposeRedaction.redact(version.compose)
        var members: [String: JSONValue] = [
            "template_id": .string(version.templateID),
            "number": int(version.number),
            // Of the text as shown: a digest of the text as given would let a reader test guesses
            // of the redacted values against it.
            "digest": .string("sha256:" + (redacted.text == version.compose ? version.digestHex : Hex.encode(SHA256.hash(redacted.text)))),
            "variables": maskedDefaults((try? JSONParser.parse(Array(version.variablesJSON.utf8))) ?? .array([]), secretLines: redacted.lines),
            "warnings": (try? JSONParser.parse(Array(version.warningsJSON.utf8))) ?? .array([]),
            "description": .string(version.description),
            "author": .string(version.author),
            "created_at": time(version.createdAt),
        ]
        if includeCompose { members["compose"] = .string(redacted.text) }
        return .object(members)
    }

    static func image(_ image: ImageRecord) -> JSONValue {
        .object([
            "id": .string(image.id),
            "repository": .string(image.repository),
            "tag": .string(image.tag),
            "digest": text(image.digest),
            "reference": .string(image.reference),
            "description": .string(image.description),
            "version": .integer(image.version),
            "created_at": time(image.createdAt),
            "updated_at": time(image.updatedAt),
        ])
    }

    static func application(_ app: ApplicationRecord, deployment: DeploymentRecord? = nil) -> JSONValue {
        var members: [String: JSONValue] = [
            "id": .string(app.id),
            "cluster_id": .string(app.clusterID),
            "name": .string(app.name),
            "description": .string(app.description),
            "source": .string(app.source.rawValue),
            "template_id": text(app.templateID),
            "template_version": app.templateVersion.map(int) ?? .null,
            "image_id": text(app.imageID),
            "compose": text(app.compose.map(compose)),
            "spec": spec(app.spec),
            "variables": ApplicationSecrets.viewVariables(app.variablesJSON),
            "generation": .integer(app.generation),
            "observed_generation": .integer(app.observedGeneration),
            "status": .string(app.status),
            "status_reason": text(app.statusReason),
            "version": .integer(app.version),
            "created_at": time(app.createdAt),
            "updated_at": time(app.updatedAt),
            "deleting_at": time(app.deletingAt),
        ]
        if let deployment { members["deployment"] = self.deployment(deployment) }
        return .object(members)
    }

    static func service(_ service: ServiceRecord) -> JSONValue {
        var members: [String: JSONValue] = [
            "id": .string(service.id),
            "application_id": .string(service.applicationID),
            "name": .string(service.name),
            "kind": .string(service.kind),
            "image": text(service.image),
            "mode": .string(service.mode.rawValue),
            "desired_replicas": int(service.desiredReplicas),
            "running_replicas": int(service.runningReplicas),
            "generation": .integer(service.generation),
            "status": .string(service.status),
            "version": .integer(service.version),
            "created_at": time(service.createdAt),
            "updated_at": time(service.updatedAt),
        ]
        if service.kind == "external" {
            members["endpoint"] = .object([
                "host": text(service.endpointHost),
                "ports": .array(service.endpointPorts.map(int)),
            ])
            members["spec"] = .null
        } else {
            members["endpoint"] = .null
            members["spec"] = service.serviceSpec.map { encoded(ApplicationSecrets.masked(AppSpec(services: [$0])).services[0]) } ?? .null
        }
        return .object(members)
    }

    static func container(_ container: ContainerRecord) -> JSONValue {
        .object([
            "id": .string(container.id),
            "application_id": .string(container.applicationID),
            "service_id": .string(container.serviceID),
            "service_name": .string(container.serviceName),
            "node_id": text(container.nodeID),
            "slot": int(container.slot),
            "generation": .integer(container.generation),
            "desired_state": .string(container.desiredState.rawValue),
            "observed_state": .string(container.observedState.rawValue),
            "health": .string(container.health.rawValue),
            // Its own address on the node's caas network when it has one, else where it serves.
            "address": text(container.ipAddress ?? container.address),
            "ports": .array(container.ports.map { port in
                .object(["container_port": int(port.containerPort), "host_port": port.hostPort.map(int) ?? .null,
                         "host_address": text(port.hostAddress), "protocol": .string(port.protocol)])
            }),
            "exit_code": container.exitCode.map(int) ?? .null,
            "restart_count": int(container.restartCount),
            "status_message": text(container.statusMessage),
            "version": .integer(container.version),
            "created_at": time(container.createdAt),
            "updated_at": time(container.updatedAt),
            "started_at": time(container.startedAt),
            "finished_at": time(container.finishedAt),
            "observed_at": time(container.observedAt),
        ])
    }

    static func deployment(_ deployment: DeploymentRecord) -> JSONValue {
        .object([
            "id": .string(deployment.id),
            "application_id": .string(deployment.applicationID),
            "generation": .integer(deployment.generation),
            "from_generation": deployment.fromGeneration.map(JSONValue.integer) ?? .null,
            "to_generation": .integer(deployment.toGeneration),
            "strategy": .string(deployment.strategy),
            "status": .string(deployment.status),
            "progress": .object(["updated": int(deployment.progressUpdated), "total": int(deployment.progressTotal)]),
            "outcome": text(deployment.outcome),
            "reason": text(deployment.reason),
            "started_at": time(deployment.startedAt),
            "finished_at": time(deployment.finishedAt),
            "deadline": time(deployment.deadline),
            "version": .integer(deployment.version),
            "created_at": time(deployment.createdAt),
        ])
    }

    // MARK: Compose diagnostics

    static func diagnostic(_ diagnostic: ComposeDiagnostic) -> JSONValue {
        .object([
            "severity": .string(diagnostic.severity.rawValue),
            "path": .string(diagnostic.path),
            "line": diagnostic.line.map(int) ?? .null,
            "column": diagnostic.column.map(int) ?? .null,
            "detail": .string(diagnostic.message),
        ])
    }

    /// A variable reference; its default is masked when the variable is secret, or when it is used
    /// on a line where a secret value is written (`secretLines`).
    static func variable(_ reference: VariableReference, secretLines: Set<Int> = []) -> JSONValue {
        let secret = SecretNames.isSecret(reference.name) || reference.line.map(secretLines.contains) == true
        return .object([
            "name": .string(reference.name),
            "kind": .string(reference.kind.rawValue),
            "default": secret && reference.defaultValue != nil ? .string(SecretNames.mask) : text(reference.defaultValue),
            "required": .bool(reference.isRequired),
            "secret": .bool(SecretNames.isSecret(reference.name)),
            "path": .string(reference.path),
            "line": reference.line.map(int) ?? .null,
            "column": reference.column.map(int) ?? .null,
        ])
    }

    /// The variables a text needs, one entry per name (its first use), in order of appearance.
    static func variables(_ references: [VariableReference], secretLines: Set<Int> = []) -> JSONValue {
        var seen: Set<String> = []
        return .array(references.filter { seen.insert($0.name).inserted }.map { variable($0, secretLines: secretLines) })
    }

    /// Stored variable entries (`variables` above, as JSON) with secret defaults masked: versions
    /// stored before defaults were masked show none either.
    static func maskedDefaults(_ variables: JSONValue, secretLines: Set<Int>) -> JSONValue {
        guard case .array(let items) = variables else { return variables }
        return .array(items.map { item in
            guard case .object(var members) = item, members["default"] != nil, members["default"] != .null else { return item }
            let line = members["line"]?.integerValue.map(Int.init)
            if members["secret"] == .bool(true) || line.map(secretLines.contains) == true { members["default"] = .string(SecretNames.mask) }
            return .object(members)
        })
    }
}

extension APIError {
    /// 422: the compose text is not valid; every error with its line, column and path.
    static func invalidCompose(_ errors: [ComposeDiagnostic], pointer: String = "/compose") -> APIError {
        let summary = errors.prefix(3).map(\.description).joined(separator: "; ")
        return APIError(status: 422, slug: "invalid-compose", title: "The compose text is not valid",
                        detail: "\(errors.count) error\(errors.count == 1 ? "" : "s"): \(summary)",
                        extensions: ["errors": .array(errors.map { diagnostic in
                            var object = ResourceViews.diagnostic(diagnostic)
                            if case .object(var members) = object {
                                members["pointer"] = .string(pointer)
                                object = .object(members)
                            }
                            return object
                        })])
    }

    /// 422: deploy-time variables the text needs were not given.
    static func missingVariables(_ names: [String], references: [VariableReference]) -> APIError {
        let errors: [JSONValue] = names.map { name in
            let first = references.first { $0.name == name }
            return .object([
                "pointer": .string("/variables/\(name)"),
                "detail": .string("variable \(name) is required by the template and has no default"),
                "path": .string(first?.path ?? ""),
                "line": first?.line.map { .integer(Int64($0)) } ?? .null,
                "column": first?.column.map { .integer(Int64($0)) } ?? .null,
            ])
        }
        return APIError(status: 422, slug: "missing-variables", title: "Variables are missing",
                        detail: "the template needs values for: \(names.joined(separator: ", "))",
                        extensions: ["errors": .array(errors), "missing_variables": .array(names.map(JSONValue.string))])
    }

    static func unprocessable(_ detail: String, pointer: String) -> APIError {
        APIError(status: 422, slug: "unprocessable", title: "The request cannot be carried out", detail: detail,
                 errors: [FieldError(pointer: pointer, detail: detail)])
    }
}
