import Foundation

/// A column of a resource table: its header, whether it shows only with `-o wide`, whether it
/// holds a status word (coloured on a terminal), and its text for an object at a moment.
public struct Column<Object: Sendable>: Sendable {
    public var header: String
    public var wide: Bool
    public var isStatus: Bool
    public var value: @Sendable (Object, Date) -> String

    public init(_ header: String, wide: Bool = false, status: Bool = false, _ value: @escaping @Sendable (Object, Date) -> String) {
        self.header = header
        self.wide = wide
        self.isStatus = status
        self.value = value
    }

    public init(_ header: String, wide: Bool = false, status: Bool = false, _ value: @escaping @Sendable (Object) -> String) {
        self.init(header, wide: wide, status: status) { object, _ in value(object) }
    }
}

/// Tables of objects: the columns shown, and the rendering with status colours.
public struct ResourceTable<Object: Sendable>: Sendable {
    public var columns: [Column<Object>]

    public init(_ columns: [Column<Object>]) { self.columns = columns }

    public func table(_ objects: [Object], wide: Bool, now: Date = Date()) -> Table {
        let shown = columns.filter { wide || !$0.wide }
        return Table(headers: shown.map(\.header), rows: objects.map { object in shown.map { $0.value(object, now) } })
    }

    public func render(_ objects: [Object], wide: Bool, style: TerminalStyle, now: Date = Date()) -> String {
        let shown = columns.filter { wide || !$0.wide }
        let statusColumns = Set(shown.indices.filter { shown[$0].isStatus })
        return table(objects, wide: wide, now: now).render(style: style) { index, text in
            statusColumns.contains(index) ? TerminalStyle.colour(forStatus: text) : nil
        }
    }
}

/// The columns of every resource's table. Times are ages (`5m`); `-o wide` adds detail.
public enum ResourceTables {
    static func age(_ date: Date?, _ now: Date) -> String { RelativeTime.age(of: date, now: now) }

    static func labels(_ labels: [String: String]) -> String {
        labels.keys.sorted().map { "\($0)=\(labels[$0]!)" }.joined(separator: ",")
    }

    static func memory(_ bytes: Int?) -> String {
        guard let bytes, bytes > 0 else { return "" }
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return value >= 10 || unit == 0 ? "\(Int(value))\(units[unit])" : String(format: "%.1f%@", value, units[unit])
    }

    public static let tenants = ResourceTable<Tenant>([
        Column("ID", { $0.id }),
        Column("NAME", { $0.name }),
        Column("STATUS", status: true, { $0.status }),
        Column("DISPLAY NAME", wide: true, { $0.displayName }),
        Column("AGE", { age($0.createdAt, $1) }),
    ])

    public static let tokens = ResourceTable<Token>([
        Column("ID", { $0.id }),
        Column("NAME", { $0.name }),
        Column("ROLE", { $0.role }),
        Column("STATUS", status: true, { $0.raw["revoked_at"].map { $0.isNull ? "active" : "revoked" } ?? "active" }),
        Column("EXPIRES", { object, now in object.date("expires_at").map { "in " + RelativeTime.age(of: now, now: $0) } ?? "never" }),
        Column("LAST USED", { object, now in object.date("last_used_at").map { RelativeTime.ago($0, now: now) } ?? "never" }),
        Column("AGE", { age($0.createdAt, $1) }),
    ])

    public static let clusters = ResourceTable<Cluster>([
        Column("ID", { $0.id }),
        Column("NAME", { $0.name }),
        Column("STATUS", status: true, { $0.status }),
        Column("AGENT", status: true, { $0.agentStatus }),
        Column("NODES", { $0.int("node_count").map(String.init) ?? "" }),
        Column("NETWORK", wide: true, { $0.networkCIDR }),
        Column("NETWORKING", wide: true, { $0.string("networking") ?? "" }),
        Column("LABELS", wide: true, { labels($0.labels) }),
        Column("AGE", { age($0.createdAt, $1) }),
    ])

    public static let nodes = ResourceTable<Node>([
        Column("ID", { $0.id }),
        Column("NAME", { $0.name }),
        Column("CLUSTER", wide: true, { $0.clusterID }),
        Column("STATUS", status: true, { $0.status }),
        Column("CPUS", { $0.capacityCPUs.map { $0.rounded() == $0 ? String(Int($0)) : String($0) } ?? "" }),
        Column("MEMORY", { memory($0.capacityMemory) }),
        Column("SUBNET", wide: true, { $0.subnet }),
        Column("ENGINE", wide: true, { $0.engineEndpoint }),
        Column("LABELS", wide: true, { labels($0.labels) }),
        Column("HEARTBEAT", { object, now in object.lastHeartbeat.map { RelativeTime.ago($0, now: now) } ?? "never" }),
        Column("AGE", { age($0.createdAt, $1) }),
    ])

    public static let templates = ResourceTable<Template>([
        Column("ID", { $0.id }),
        Column("NAME", { $0.name }),
        Column("LATEST", { $0.latestVersion.map { "v\($0)" } ?? "" }),
        Column("DESCRIPTION", wide: true, { $0.description }),
        Column("AGE", { age($0.createdAt, $1) }),
    ])

    public static let templateVersions = ResourceTable<TemplateVersion>([
        Column("VERSION", { "v\($0.number)" }),
        Column("DIGEST", { String($0.digest.prefix(19)) }),
        Column("VARIABLES", { $0.variableNames.joined(separator: ",") }),
        Column("AUTHOR", { $0.author }),
        Column("AGE", { age($0.createdAt, $1) }),
    ])

    public static let images = ResourceTable<Image>([
        Column("ID", { $0.id }),
        Column("REPOSITORY", { $0.repository }),
        Column("TAG", { $0.tag }),
        Column("DIGEST", wide: true, { $0.digest }),
        Column("DESCRIPTION", { $0.description }),
        Column("AGE", { age($0.createdAt, $1) }),
    ])

    public static let applications = ResourceTable<Application>([
        Column("ID", { $0.id }),
        Column("NAME", { $0.name }),
        Column("STATUS", status: true, { $0.status }),
        Column("GENERATION", { "\($0.observedGeneration)/\($0.generation)" }),
        Column("CLUSTER", wide: true, { $0.clusterID }),
        Column("SOURCE", wide: true, { app in
            app.templateID.map { "\($0):v\(app.templateVersion ?? 0)" } ?? app.source
        }),
        Column("REASON", wide: true, { $0.statusReason ?? "" }),
        Column("AGE", { age($0.createdAt, $1) }),
    ])

    public static let deployments = ResourceTable<Deployment>([
        Column("ID", { $0.id }),
        Column("GENERATION", { $0.generation.map(String.init) ?? "" }),
        Column("STATUS", status: true, { $0.status }),
        Column("STRATEGY", wide: true, { $0.strategy ?? "" }),
        Column("REASON", { $0.reason ?? "" }),
        Column("AGE", { age($0.createdAt, $1) }),
    ])

    public static let services = ResourceTable<Service>([
        Column("ID", { $0.id }),
        Column("NAME", { $0.name }),
        Column("IMAGE", { $0.kind == "external" ? "(external)" : $0.image }),
        Column("REPLICAS", { $0.mode == "global" ? "\($0.runningReplicas) (global)" : "\($0.runningReplicas)/\($0.desiredReplicas)" }),
        Column("STATUS", status: true, { $0.status }),
        Column("PORTS", wide: true, { $0.ports }),
        Column("APPLICATION", wide: true, { $0.applicationID }),
        Column("AGE", { age($0.createdAt, $1) }),
    ])

    public static let containers = ResourceTable<Container>([
        Column("ID", { $0.id }),
        Column("SERVICE", { $0.serviceName.isEmpty ? $0.serviceID : $0.serviceName + ($0.slot.map { ".\($0)" } ?? "") }),
        Column("NODE", { $0.nodeID }),
        Column("STATE", status: true, { $0.observedState }),
        Column("DESIRED", wide: true, { $0.desiredState }),
        Column("HEALTH", status: true, { $0.health == "unknown" ? "" : $0.health }),
        Column("ADDRESS", { $0.address }),
        Column("PORTS", wide: true, { $0.ports }),
        Column("RESTARTS", wide: true, { String($0.restartCount) }),
        Column("EXIT", wide: true, { $0.exitCode.map(String.init) ?? "" }),
        Column("STARTED", { object, now in object.startedAt.map { RelativeTime.ago($0, now: now) } ?? "" }),
    ])

    public static let events = ResourceTable<Event>([
        Column("ID", wide: true, { String($0.sequence) }),
        Column("AGE", { age($0.time, $1) }),
        Column("TYPE", { $0.type }),
        Column("OBJECT", { $0.objectID }),
        Column("SUMMARY", { $0.summary }),
    ])

    public static let audit = ResourceTable<AuditEntry>([
        Column("AGE", { age($0.time, $1) }),
        Column("TENANT", wide: true, { $0.tenantID }),
        Column("TOKEN", { $0.tokenName }),
        Column("ACTION", { $0.action }),
        Column("TARGET", { $0.target }),
        Column("OUTCOME", status: true, { $0.outcome }),
        Column("REQUEST", wide: true, { $0.string("request_id") ?? "" }),
    ])
}

/// Names as the API accepts them (DNS-label-like: `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`).
public enum NameRule {
    /// A directory name made into a project name: lower case, every run of other characters
    /// made one `-`, trimmed to 63 characters; `default` when nothing is left.
    public static func normalise(_ text: String) -> String {
        var result = ""
        for character in text.lowercased().unicodeScalars {
            let allowed = ("a"..."z").contains(character) || ("0"..."9").contains(character)
            if allowed {
                result.unicodeScalars.append(character)
            } else if !result.isEmpty, !result.hasSuffix("-") {
                result += "-"
            }
        }
        result = String(result.prefix(63))
        while result.hasSuffix("-") { result.removeLast() }
        return result.isEmpty ? "default" : result
    }
}
