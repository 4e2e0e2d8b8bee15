/// Bounds on what one compose text may cost to parse. Every breach is a clear error, never a crash or a hang.
public struct ComposeLimits: Sendable, Equatable {
    /// Largest accepted text, in UTF-8 bytes.
    public var maxBytes: Int
    /// Most services (container and external) in one application.
    public var maxServices: Int
    /// Most YAML nodes after alias expansion (the "billion laughs" bound).
    public var maxNodes: Int
    /// Deepest nesting of mappings and sequences.
    public var maxDepth: Int
    /// Most scalar text after alias expansion, in UTF-8 bytes.
    public var maxExpandedTextBytes: Int
    /// Most variable uses (`${NAME}`, `$NAME`) written in the text; an alias does not repeat them.
    public var maxVariableReferences: Int

    public init(maxBytes: Int = 1 << 20, maxServices: Int = 500, maxNodes: Int = 200_000, maxDepth: Int = 64, maxExpandedTextBytes: Int = 16 << 20,
                maxVariableReferences: Int = 10_000) {
        self.maxBytes = maxBytes
        self.maxServices = maxServices
        self.maxNodes = maxNodes
        self.maxDepth = maxDepth
        self.maxExpandedTextBytes = maxExpandedTextBytes
        self.maxVariableReferences = maxVariableReferences
    }

    public static let standard = ComposeLimits()
}
