/// Errors of the PostgreSQL layer. Server errors keep their SQLSTATE so callers can match
/// `23505` (unique violation), `40001` (serialization failure), `40P01` (deadlock).
///
/// Server errors also carry the other fields of the server's ErrorResponse (libpq's
/// `PG_DIAG_*` fields) as ``PostgresError/Fields``: severity, detail, hint, constraint name, …
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Could not connect, or the connection broke while in use.
        case connection
        /// The server answered with an error (see `sqlState` and `fields`).
        case server
        /// No connection became free within the pool's acquire timeout.
        case poolTimeout
        /// A value could not be decoded into the Swift type asked for (column missing, wrong
        /// type, NULL into a non-optional, malformed text).
        case decoding
        /// A Swift value could not be sent as a parameter (e.g. a string with a NUL byte).
        case encoding
        /// libpq or the server did something this layer does not expect.
        case protocolViolation
        /// A migration set or the applied migrations are not acceptable.
        case migration
        /// The embedded server could not be prepared, started or stopped.
        case embedded
        /// Invalid configuration (URL, options, directories).
        case configuration
        /// The pool or listener was shut down.
        case shutdown
    }

    /// The fields of a server error, as sent by the server (all optional but `sqlState`,
    /// severity and message, which the server always sends).
    public struct Fields: Sendable, Equatable {
        /// Localized severity (`ERROR`, `FATAL`, `PANIC`, …).
        public var localizedSeverity: String?
        /// Severity, never localized.
        public var severity: String?
        public var sqlState: String?
        public var messagePrimary: String?
        public var detail: String?
        public var hint: String?
        /// 1-based character position in the statement.
        public var statementPosition: Int?
        public var internalPosition: Int?
        public var internalQuery: String?
        /// Call stack of the error (PL/pgSQL functions, internal queries).
        public var context: String?
        public var schemaName: String?
        public var tableName: String?
        public var columnName: String?
        public var dataTypeName: String?
        public var constraintName: String?
        public var sourceFile: String?
        public var sourceLine: Int?
        public var sourceFunction: String?

        public init() {}
    }

    public var kind: Kind
    public var message: String
    public var sqlState: String?
    /// The server's error fields, for `.server` errors (and connection errors that the server
    /// reported, like `57P01` admin shutdown).
    public var fields: Fields
    /// The statement that failed, when known (never its bound values).
    public var query: String?

    public init(kind: Kind, message: String, sqlState: String? = nil, fields: Fields = Fields(), query: String? = nil) {
        self.kind = kind
        self.message = message
        self.sqlState = sqlState ?? fields.sqlState
        self.fields = fields
        self.query = query
    }

    public var severity: String? { fields.severity ?? fields.localizedSeverity }
    public var detail: String? { fields.detail }
    public var hint: String? { fields.hint }
    public var constraintName: String? { fields.constraintName }
    public var tableName: String? { fields.tableName }
    public var columnName: String? { fields.columnName }

    public var description: String {
        var text = message
        if let severity, kind == .server { text = "\(severity): \(text)" }
        if let detail = fields.detail { text += " — \(detail)" }
        if let hint = fields.hint { text += " (hint: \(hint))" }
        if let constraint = fields.constraintName { text += " [constraint \(constraint)]" }
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        return text
    }
}

// MARK: - SQLSTATE classification

extension PostgresError {
    /// Well-known SQLSTATE codes this project matches on.
    public enum Code {
        public static let uniqueViolation = "23505"
        public static let foreignKeyViolation = "23503"
        public static let notNullViolation = "23502"
        public static let checkViolation = "23514"
        public static let exclusionViolation = "23P01"
        public static let serializationFailure = "40001"
        public static let deadlockDetected = "40P01"
        public static let queryCanceled = "57014"
        public static let adminShutdown = "57P01"
        public static let lockNotAvailable = "55P03"
        public static let undefinedTable = "42P01"
    }

    public var isUniqueViolation: Bool { sqlState == Code.uniqueViolation }
    public var isSerializationFailure: Bool { sqlState == Code.serializationFailure }
    public var isDeadlock: Bool { sqlState == Code.deadlockDetected }

    /// A whole transaction that failed with this error may succeed when run again.
    public var isTransient: Bool { isSerializationFailure || isDeadlock }

    /// The error says the connection can no longer be used (class 08, admin shutdown, or a
    /// client-side connection failure).
    public var isConnectionFailure: Bool {
        if kind == .connection { return true }
        guard let sqlState else { return false }
        return sqlState.hasPrefix("08") || sqlState == "57P01" || sqlState == "57P02" || sqlState == "57P03"
    }
}
