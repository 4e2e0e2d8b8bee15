/// Errors of the PostgreSQL layer. Server errors keep their SQLSTATE so callers can match
/// `23505` (unique violation), `40001` (serialization failure), `40P01` (deadlock).
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case connection
        case server
        case poolTimeout
        case decoding
        case protocolViolation
    }

    public var kind: Kind
    public var message: String
    public var sqlState: String?

    public init(kind: Kind, message: String, sqlState: String? = nil) {
        self.kind = kind
        self.message = message
        self.sqlState = sqlState
    }

    public var description: String {
        if let sqlState { return "\(message) (SQLSTATE \(sqlState))" }
        return message
    }
}
