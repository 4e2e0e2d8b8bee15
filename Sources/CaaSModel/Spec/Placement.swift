/// Where a service's containers may run, and how they are spread.
public struct Placement: Codable, Sendable, Equatable {
    public var constraints: [PlacementConstraint]
    /// Spread containers across the values of these node labels (e.g. `az`), in order of priority.
    public var spreadOver: [String]
    public var strategy: PlacementStrategy
    /// At most this many of the service's containers on one node (`nil`: no limit).
    public var maxPerNode: Int?

    public init(constraints: [PlacementConstraint] = [], spreadOver: [String] = [], strategy: PlacementStrategy = .spread, maxPerNode: Int? = nil) {
        self.constraints = constraints
        self.spreadOver = spreadOver
        self.strategy = strategy
        self.maxPerNode = maxPerNode
    }
}

public enum PlacementStrategy: String, Codable, Sendable, Equatable {
    /// Fewest containers first (default).
    case spread
    /// Fill the most-allocated node that still fits.
    case binpack
}

/// A hard constraint on a node attribute: `node.labels.az==2`, `constraint:type!=/gpu.*/`, `availability:az==2`.
public struct PlacementConstraint: Codable, Sendable, Equatable {
    public enum Attribute: Codable, Sendable, Equatable, Hashable {
        case nodeID
        case nodeName
        case nodeLabel(String)

        /// `node_id` in snake_case JSON decodes back to this case.
        enum CodingKeys: String, CodingKey {
            case nodeID = "nodeId"
            case nodeName, nodeLabel
        }
    }

    public enum Operator: String, Codable, Sendable, Equatable {
        case equal = "=="
        case notEqual = "!="
    }

    public enum Value: Codable, Sendable, Equatable {
        case exact(String)
        /// A regular expression that must match the whole value.
        case pattern(String)
    }

    public var attribute: Attribute
    public var op: Operator
    public var value: Value
    /// The text as written, for explanations.
    public var source: String

    public init(attribute: Attribute, op: Operator, value: Value, source: String) {
        self.attribute = attribute
        self.op = op
        self.value = value
        self.source = source
    }
}
