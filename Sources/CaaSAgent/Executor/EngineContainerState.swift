import Foundation

/// A container as listed by the engine: what the executor plans against.
public struct ObservedEngineContainer: Sendable, Equatable {
    public enum Status: String, Sendable, Equatable {
        case created, running, paused, restarting, removing, exited, dead
        case unknown
    }

    public var engineId: String
    public var name: String
    public var labels: [String: String]
    public var status: Status
    /// Seconds since 1970; newer copies win when an agent crash left duplicates.
    public var createdAt: Int64
    /// The exit code of an exited container, when the listing says it (`Exited (137) …`).
    public var exitCode: Int?

    public init(engineId: String, name: String, labels: [String: String], status: Status, createdAt: Int64 = 0, exitCode: Int? = nil) {
        self.engineId = engineId
        self.name = name
        self.labels = labels
        self.status = status
        self.createdAt = createdAt
        self.exitCode = exitCode
    }

    /// `Exited (137) 5 seconds ago` → 137.
    public static func exitCode(fromStatus text: String?) -> Int? {
        guard let text, text.hasPrefix("Exited ("), let close = text.firstIndex(of: ")") else { return nil }
        return Int(text[text.index(text.startIndex, offsetBy: 8)..<close])
    }

    /// The caas container id, when the engine container carries our labels for `clusterId`.
    public func caasContainerId(in clusterId: String) -> String? {
        guard labels[ContainerLabels.cluster] == clusterId, let id = labels[ContainerLabels.container], !id.isEmpty else { return nil }
        return id
    }

    /// Whether its process is (or is about to be) alive.
    public var isLive: Bool { status == .running || status == .paused || status == .restarting }
}
