import CaaSModel
import Foundation

/// A typed view of an object the server sent. The view reads the fields the client acts on and
/// keeps the whole value (`raw`) for `-o json|yaml`, so a field the server adds is never lost and
/// a field it lacks reads as absent instead of failing the command.
public protocol APIObject: Sendable {
    var raw: JSON { get }
    init(_ raw: JSON)
}

extension APIObject {
    public var id: String { raw["id"]?.stringValue ?? "" }
    public var name: String { raw["name"]?.stringValue ?? "" }
    public var version: Int? { raw["version"]?.intValue }
    public var createdAt: Date? { date("created_at") }
    public var updatedAt: Date? { date("updated_at") }
    /// The `If-Match` value for a write of this object (its `version` as a strong ETag).
    public var etag: String? { version.map { "\"\($0)\"" } }

    public func string(_ key: String) -> String? { raw[path: key]?.stringValue }
    public func int(_ key: String) -> Int? { raw[path: key]?.intValue }
    public func date(_ key: String) -> Date? { raw[path: key]?.stringValue.flatMap(RFC3339.parse) }
    public var labels: [String: String] { raw["labels"]?.objectValue?.compactMapValues(\.stringValue) ?? [:] }
}

public struct Tenant: APIObject {
    public let raw: JSON
    public init(_ raw: JSON) { self.raw = raw }
    public var status: String { string("status") ?? "" }
    public var displayName: String { string("display_name") ?? "" }
    public var quotas: [String: Int] { raw["quotas"]?.objectValue?.compactMapValues(\.intValue) ?? [:] }
    public var quotaUsage: [String: Int] { raw["quota_usage"]?.objectValue?.compactMapValues(\.intValue) ?? [:] }
    public var lastEventID: Int64 { Int64(int("last_event_id") ?? 0) }
}

public struct Token: APIObject {
    public let raw: JSON
    public init(_ raw: JSON) { self.raw = raw }
    public var role: String { string("role") ?? "" }
    public var secret: String? { string("secret") }
    public var tenantID: String? { string("tenant_id") }
}

public struct Cluster: APIObject {
    public let raw: JSON
    public init(_ raw: JSON) { self.raw = raw }
    public var status: String { string("status") ?? "" }
    public var agentStatus: String { string("agent_status") ?? "" }
    public var networkCIDR: String { string("network_cidr") ?? "" }
    /// Present only in the answers that create the cluster or rotate its join token.
    public var joinToken: String? { string("join_token") }
}

public struct Node: APIObject {
    public let raw: JSON
    public init(_ raw: JSON) { self.raw = raw }
    public var clusterID: String { string("cluster_id") ?? "" }
    public var status: String { string("status") ?? "" }
    public var engineEndpoint: String { string("engine_endpoint") ?? "" }
    public var subnet: String { string("subnet") ?? "" }
    public var lastHeartbeat: Date? { date("last_heartbeat_at") }
    public var capacityCPUs: Double? { raw[path: "capacity.cpus"].flatMap(Self.number) ?? raw["capacity_cpus"].flatMap(Self.number) }
    public var capacityMemory: Int? { int("capacity.memory_bytes") ?? int("capacity.memory") ?? int("capacity_memory") }
    static func number(_ json: JSON) -> Double? {
        switch json {
        case .integer(let value): Double(value)
        case .number(let value): value
        default: nil
        }
    }
}

public struct Template: APIObject {
    public let raw: JSON
    public init(_ raw: JSON) { self.raw = raw }
    public var latestVersion: Int? { int("latest_version") ?? int("version_counter") }
    public var description: String { string("description") ?? "" }
}

public struct TemplateVersion: APIObject {
    public let raw: JSON
    public init(_ raw: JSON) { self.raw = raw }
    public var number: Int { int("number") ?? int("version") ?? 0 }
    public var digest: String { string("digest") ?? "" }
    public var author: String { string("author") ?? "" }
    public var compose: String? { string("compose") }
    public var variableNames: [String] {
        (raw["variables"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue ?? $0.stringValue }
    }
}

public struct Image: APIObject {
    public let raw: JSON
    public init(_ raw: JSON) { self.raw = raw }
    public var repository: String { string("repository") ?? "" }
    public var tag: String { string("tag") ?? "" }
    public var digest: String { string("digest") ?? "" }
    public var description: String { string("description") ?? "" }
}

public struct Application: APIObject {
    public let raw: JSON
    public init(_ raw: JSON) { self.raw = raw }
    public var clusterID: String { string("cluster_id") ?? "" }
    public var status: String { string("status") ?? "" }
    public var statusReason: String? { string("status_reason") }
    public var source: String { string("source") ?? "" }
    public var generation: Int { int("generation") ?? 0 }
    public var observedGeneration: Int { int("observed_generation") ?? 0 }
    public var templateID: String? { string("template_id") }
    public var templateVersion: Int? { int("template_version") }
}

public struct Deployment: APIObject {
    public let raw: JSON
    public init(_ raw: JSON) { self.raw = raw }
    public var applicationID: String { string("application_id") ?? string("app_id") ?? "" }
    public var generation: Int? { int("generation") }
    /// `running`/`in_progress` while the rollout goes on; then `succeeded`, `failed` or `rolled_back`.
    public var status: String { string("outcome") ?? string("status") ?? "" }
    public var reason: String? { string("reason") ?? string("status_reason") }
    public var strategy: String? { string("strategy") }
    public var isFinished: Bool { Deployment.finishedStates.contains(status) }
    public var succeeded: Bool { status == "succeeded" }
    public static let finishedStates: Set<String> = ["succeeded", "failed", "rolled_back", "superseded", "cancelled"]
}

public struct Service: APIObject {
    public let raw: JSON
    public init(_ raw: JSON) { self.raw = raw }
    public var applicationID: String { string("application_id") ?? string("app_id") ?? "" }
    public var image: String { string("image") ?? "" }
    public var kind: String { string("kind") ?? "container" }
    public var mode: String { string("mode") ?? "replicated" }
    public var status: String { string("status") ?? "" }
    public var desiredReplicas: Int { int("desired_replicas") ?? int("replicas") ?? 0 }
    public var runningReplicas: Int { int("running_replicas") ?? int("running") ?? 0 }
    public var ports: String {
        (raw["ports"]?.arrayValue ?? []).map { port in
            if let published = port["published"]?.displayText, let target = port["target"]?.displayText, !published.isEmpty {
                return "\(published)->\(target)"
            }
            return port["target"]?.displayText ?? port.displayText
        }.joined(separator: ",")
    }
}

public struct Container: APIObject {
    public let raw: JSON
    public init(_ raw: JSON) { self.raw = raw }
    public var serviceID: String { string("service_id") ?? "" }
    public var serviceName: String { string("service_name") ?? "" }
    public var applicationID: String { string("application_id") ?? "" }
    public var nodeID: String { string("node_id") ?? "" }
    public var slot: Int? { int("slot") }
    public var desiredState: String { string("desired_state") ?? "" }
    public var observedState: String { string("observed_state") ?? "" }
    public var health: String { string("health") ?? "" }
    /// Where the container can be reached (`127.0.0.1:20345`), as its agent reported it.
    public var address: String { string("address") ?? "" }
    /// Published ports as `[host address:]host port->container port/protocol`, comma-separated.
    public var ports: String {
        (raw["ports"]?.arrayValue ?? []).compactMap { port -> String? in
            guard let target = port["container_port"]?.displayText, !target.isEmpty else { return nil }
            let proto = port["protocol"]?.displayText ?? "tcp"
            guard let published = port["host_port"]?.displayText, !published.isEmpty else { return "\(target)/\(proto)" }
            let host = port["host_address"]?.displayText ?? ""
            return (host.isEmpty ? "" : host.contains(":") ? "[\(host)]:" : "\(host):") + "\(published)->\(target)/\(proto)"
        }.joined(separator: ",")
    }
    public var exitCode: Int? { int("exit_code") }
    public var restartCount: Int { int("restart_count") ?? 0 }
    public var startedAt: Date? { date("started_at") }
    public var statusMessage: String? { string("status_message") }
}

public struct Event: APIObject {
    public let raw: JSON
    public init(_ raw: JSON) { self.raw = raw }
    public var sequence: Int64 { Int64(int("id") ?? 0) }
    public var type: String { string("type") ?? "" }
    public var objectKind: String { string("object_kind") ?? "" }
    public var objectID: String { string("object_id") ?? "" }
    public var summary: String { string("summary") ?? "" }
    public var time: Date? { date("time") }
    public var data: JSON { raw["data"] ?? .null }
}

public struct AuditEntry: APIObject {
    public let raw: JSON
    public init(_ raw: JSON) { self.raw = raw }
    public var action: String { string("action") ?? "" }
    public var target: String { string("target") ?? "" }
    public var tokenName: String { string("token_name") ?? "" }
    public var outcome: String { raw["outcome"]?.displayText ?? "" }
    public var time: Date? { date("time") }
    public var tenantID: String { string("tenant_id") ?? "" }
}
