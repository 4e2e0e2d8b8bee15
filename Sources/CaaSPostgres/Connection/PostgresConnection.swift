import CLibPQ
import Foundation
import Logging

/// One libpq connection. All calls block the calling thread until the server answers, so use a
/// connection only from a dedicated thread: the one ``PostgresPool`` runs your body on, or your
/// own. Values always travel as bound parameters (`PQexecPrepared`, or `PQexecParams`).
///
/// Statements with parameters are prepared once per session and then only bound and executed:
/// the server parses, analyses and plans each text once (and may settle on a generic plan), which
/// is most of the cost of the short statements a control plane runs. The session keeps the
/// `preparedStatementLimit` most recently used ones; statements without parameters (`BEGIN`,
/// `COMMIT`, scripts) are sent as they are.
///
/// `@unchecked Sendable`: a connection is not safe for concurrent use; the pool hands it to one
/// job at a time on the connection's own thread. The one method that may be called from any
/// thread, ``cancel()``, uses libpq's thread-safe `PQcancel` under `cancelLock`.
public final class PostgresConnection: @unchecked Sendable {
    /// The `PGconn *`; nil once closed.
    private(set) var handle: OpaquePointer?
    private let cancelLock = NSLock()
    private var cancelHandle: OpaquePointer?
    private let noticeBox: NoticeBox
    public let logger: Logger
    /// Statements prepared on this session, by SQL text and parameter types.
    private var prepared: [PreparedKey: PreparedStatement] = [:]
    private var statementUses: UInt64 = 0
    private var statementNames = 0
    /// How many prepared statements this session keeps (least recently used ones are deallocated;
    /// 0: statements are never prepared).
    public var preparedStatementLimit = 256

    private struct PreparedKey: Hashable {
        var sql: String
        var types: [Oid]
    }

    private struct PreparedStatement {
        var name: String
        var lastUse: UInt64
    }

    public enum TransactionStatus: Sendable {
        case idle, active, inTransaction, inFailedTransaction, unknown
    }

    /// Receives notices (and errors the server sends to an idle session) on the connection's
    /// thread, from inside libpq calls.
    private final class NoticeBox {
        let logger: Logger
        /// The server reported FATAL or PANIC: the session is ending.
        var sawFatal = false
        init(logger: Logger) { self.logger = logger }
    }

    private init(handle: OpaquePointer, logger: Logger) {
        self.handle = handle
        self.logger = logger
        self.noticeBox = NoticeBox(logger: logger)
        self.cancelHandle = PQgetCancel(handle)
        // Without a receiver libpq prints NOTICEs (e.g. "… already exists, skipping") to stderr.
        PQsetNoticeReceiver(handle, { context, result in
            guard let context, let result else { return }
            let box = Unmanaged<NoticeBox>.fromOpaque(context).takeUnretainedValue()
            let severity = PQresultErrorField(result, Int32(UInt8(ascii: "V"))).map { String(cString: $0) } ?? ""
            if severity == "FATAL" || severity == "PANIC" { box.sawFatal = true }
            let text = PQresultErrorMessage(result).map { String(cString: $0) }?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            box.logger.debug("postgres notice", metadata: ["notice": .string(text), "severity": .string(severity)])
        }, Unmanaged.passUnretained(noticeBox).toOpaque())
    }

    deinit { close() }

    /// Connects (blocking) and prepares the session. Throws `.connection` errors with libpq's
    /// reason, naming the host and database but never a password.
    public static func connect(_ configuration: PostgresConfiguration, logger: Logger = Logger(label: "caas.postgres")) throws -> PostgresConnection {
        // Order matters: later entries override earlier ones, and `dbname` expands the URL.
        // TCP keepalives and a user timeout on every session: a half-open connection (the server
        // or the path gone without a FIN) fails within a minute instead of hanging a caller.
        // Before `dbname`, so the URL's own settings win.
        let parameters: [(String, String)] = [
            ("connect_timeout", String(configuration.connectTimeoutSeconds)),
            ("keepalives", "1"), ("keepalives_idle", "10"), ("keepalives_interval", "5"), ("keepalives_count", "3"),
            ("tcp_user_timeout", "30000"),
            ("dbname", configuration.url),
            ("fallback_application_name", configuration.applicationName),
            ("client_encoding", "UTF8"),
        ]
        let keys = parameters.map { strdup($0.0) }
        let values = parameters.map { strdup($0.1) }
        defer {
            keys.forEach { free($0) }
            values.forEach { free($0) }
        }
        let keyPointers = keys.map { UnsafePointer<CChar>($0) } + [nil]
        let valuePointers = values.map { UnsafePointer<CChar>($0) } + [nil]
        guard let handle = PQconnectdbParams(keyPointers, valuePointers, 1) else {
            throw PostgresError(kind: .connection, message: "could not connect to PostgreSQL: out of memory")
        }
        guard PQstatus(handle) == CONNECTION_OK else {
            let reason = errorMessage(handle)
            let host = PQhost(handle).map { String(cString: $0) } ?? "?"
            let database = PQdb(handle).map { String(cString: $0) } ?? "?"
            PQfinish(handle)
            throw PostgresError(kind: .connection, message: "could not connect to PostgreSQL (host \(host), database \(database)): \(reason)")
        }
        let connection = PostgresConnection(handle: handle, logger: logger)
        connection.preparedStatementLimit = configuration.preparedStatementLimit
        let settings = PostgresConfiguration.requiredSessionSettings
            + configuration.sessionSettings.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        var bindings: [any PostgresBindable] = []
        var calls: [String] = []
        for (name, value) in settings {
            calls.append("set_config($\(bindings.count + 1), $\(bindings.count + 2), false)")
            bindings.append(name)
            bindings.append(value)
        }
        do {
            try connection.execute("SELECT " + calls.joined(separator: ", "), bindings)
        } catch {
            connection.close()
            throw error
        }
        return connection
    }

    /// Connects to a URL with default settings.
    public static func connect(url: String, logger: Logger = Logger(label: "caas.postgres")) throws -> PostgresConnection {
        try connect(PostgresConfiguration(url: url), logger: logger)
    }

    // MARK: State

    /// True once the connection is closed or libpq reports it broken; the pool then replaces it.
    public var isBroken: Bool {
        guard let handle else { return true }
        return PQstatus(handle) != CONNECTION_OK || noticeBox.sawFatal
    }

    public var transactionStatus: TransactionStatus {
        guard let handle else { return .unknown }
        switch PQtransactionStatus(handle) {
        case PQTRANS_IDLE: return .idle
        case PQTRANS_ACTIVE: return .active
        case PQTRANS_INTRANS: return .inTransaction
        case PQTRANS_INERROR: return .inFailedTransaction
        default: return .unknown
        }
    }

    /// The server process id of this session (`pg_backend_pid()`).
    public var backendPID: Int32 {
        guard let handle else { return 0 }
        return PQbackendPID(handle)
    }

    /// Closes the connection; later calls throw `.connection` errors.
    public func close() {
        cancelLock.lock()
        if let cancelHandle { PQfreeCancel(cancelHandle) }
        cancelHandle = nil
        cancelLock.unlock()
        if let handle { PQfinish(handle) }
        handle = nil
    }

    /// Shuts the socket down under whatever this connection is doing: a statement blocked on a
    /// peer that stopped answering (a half-open path) fails at once instead of hanging, and the
    /// connection is broken for good. Safe to call from any thread; a no-op once closed.
    public func abort() {
        cancelLock.lock()
        defer { cancelLock.unlock() }
        guard cancelHandle != nil, let handle else { return }
        let socket = PQsocket(handle)
        if socket >= 0 { _ = shutdown(socket, Int32(SHUT_RDWR)) }
    }

    /// Asks the server to cancel the statement running on this connection (if any). Safe to call
    /// from any thread; blocks briefly while the cancel request is sent.
    public func cancel() {
        cancelLock.lock()
        defer { cancelLock.unlock() }
        guard let cancelHandle else { return }
        var buffer = [CChar](repeating: 0, count: 256)
        if PQcancel(cancelHandle, &buffer, Int32(buffer.count)) == 0 {
            let reason = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            logger.debug("postgres cancel request failed", metadata: ["reason": .string(reason)])
        }
    }

    // MARK: Statements

    /// Runs one statement with bound parameters and returns its rows.
    ///
    /// ```swift
    /// let rows = try conn.query("SELECT id, name FROM apps WHERE tenant_id = $1", [tenant])
    /// ```
    public func query(_ sql: String, _ bindings: [any PostgresBindable] = []) throws -> PostgresRows {
        let handle = try openHandle(sql)
        guard bindings.count <= 65535 else {
            throw PostgresError(kind: .encoding, message: "too many parameters (\(bindings.count); PostgreSQL allows 65535)", query: sql)
        }
        var types: [Oid] = []
        var values: [UnsafeMutablePointer<CChar>?] = []
        types.reserveCapacity(bindings.count)
        values.reserveCapacity(bindings.count)
        defer { values.forEach { free($0) } }
        for (index, binding) in bindings.enumerated() {
            types.append(Oid(type(of: binding).postgresDataType.oid))
            guard let text = try binding.postgresText() else {
                values.append(nil)
                continue
            }
            if text.utf8.contains(0) {
                throw PostgresError(kind: .encoding, message: "parameter $\(index + 1) contains a NUL character, which PostgreSQL text cannot hold", query: sql)
            }
            values.append(strdup(text))
        }
        if bindings.isEmpty {
            return try consume(PQexecParams(handle, sql, 0, nil, nil, nil, nil, 0), sql: sql)
        }
        let valuePointers = values.map { UnsafePointer<CChar>($0) }
        guard preparedStatementLimit > 0 else {
            return try consume(PQexecParams(handle, sql, Int32(bindings.count), types, valuePointers, nil, nil, 0), sql: sql)
        }
        let key = PreparedKey(sql: sql, types: types)
        let wasIdle = transactionStatus == .idle
        do {
            let name = try prepare(key, on: handle)
            return try consume(PQexecPrepared(handle, name, Int32(bindings.count), valuePointers, nil, nil, 0), sql: sql)
        } catch let error as PostgresError where error.fields.sqlState == "0A000" && prepared[key] != nil
                    && (error.fields.messagePrimary ?? "").contains("cached plan") {
            // "cached plan must not change result type": the schema changed under a prepared
            // statement. Forget it; outside a transaction nothing was lost, so prepare it again.
            let stale = prepared.removeValue(forKey: key)!.name
            guard wasIdle, transactionStatus == .idle else { throw error }
            _ = try consume(PQexec(handle, "DEALLOCATE \(stale)"), sql: "DEALLOCATE")
            let name = try prepare(key, on: handle)
            return try consume(PQexecPrepared(handle, name, Int32(bindings.count), valuePointers, nil, nil, 0), sql: sql)
        }
    }

    /// The name of `key`'s prepared statement on this session, preparing it first if needed.
    private func prepare(_ key: PreparedKey, on handle: OpaquePointer) throws -> String {
        statementUses += 1
        if let statement = prepared[key] {
            prepared[key]!.lastUse = statementUses
            return statement.name
        }
        if prepared.count >= preparedStatementLimit, let oldest = prepared.min(by: { $0.value.lastUse < $1.value.lastUse }) {
            // Prepared statements are not transactional: DEALLOCATE works inside a transaction
            // too (not in a failed one, where preparing would fail anyway).
            _ = try consume(PQexec(handle, "DEALLOCATE \(oldest.value.name)"), sql: "DEALLOCATE")
            prepared[oldest.key] = nil
        }
        statementNames += 1
        let name = "caas_\(statementNames)"
        _ = try consume(PQprepare(handle, name, key.sql, Int32(key.types.count), key.types), sql: key.sql)
        prepared[key] = PreparedStatement(name: name, lastUse: statementUses)
        return name
    }

    /// How many statements this session holds prepared.
    public var preparedStatementCount: Int { prepared.count }

    /// Runs one statement with bound parameters; returns the number of rows it affected.
    @discardableResult
    public func execute(_ sql: String, _ bindings: [any PostgresBindable] = []) throws -> Int {
        try query(sql, bindings).affectedRows
    }

    /// Runs trusted SQL text that may hold several statements (migrations, schema scripts).
    /// It takes no values: anything that varies must go through ``query(_:_:)`` parameters.
    public func executeScript(_ sql: String) throws {
        let handle = try openHandle(sql)
        if sql.utf8.contains(0) {
            throw PostgresError(kind: .encoding, message: "SQL script contains a NUL character")
        }
        _ = try consume(PQexec(handle, sql), sql: sql)
    }

    /// Sets a run-time parameter for the current transaction only (`set_config(name, value, true)`),
    /// e.g. `try conn.setLocal("caas.tenant_id", tenantID)`; row-level security policies read it
    /// with `current_setting('caas.tenant_id')`.
    public func setLocal(_ name: String, _ value: String) throws {
        try execute("SELECT set_config($1, $2, true)", [name, value])
    }

    /// Sets a run-time parameter for the rest of the session.
    public func setSession(_ name: String, _ value: String) throws {
        try execute("SELECT set_config($1, $2, false)", [name, value])
    }

    /// `NOTIFY channel, payload` through `pg_notify`, so both are bound values. Inside a
    /// transaction the notification is sent on commit.
    public func notify(channel: String, payload: String = "") throws {
        try execute("SELECT pg_notify($1, $2)", [channel, payload])
    }

    /// Quotes an identifier (table, channel or database name) for the few statements that cannot
    /// take parameters (`LISTEN`, `CREATE DATABASE`). Never use it for values.
    public func escapeIdentifier(_ identifier: String) throws -> String {
        let handle = try openHandle(nil)
        guard let escaped = PQescapeIdentifier(handle, identifier, identifier.utf8.count) else {
            throw PostgresError(kind: .encoding, message: "cannot quote identifier: \(Self.errorMessage(handle))")
        }
        defer { PQfreemem(escaped) }
        return String(cString: escaped)
    }

    // MARK: Transactions

    public enum IsolationLevel: String, Sendable {
        case readCommitted = "READ COMMITTED"
        case repeatableRead = "REPEATABLE READ"
        case serializable = "SERIALIZABLE"
    }

    /// Runs `body` in a transaction on this connection: commits when it returns, rolls back when
    /// it throws (the error is rethrown). A failed rollback closes the connection.
    public func transaction<T>(
        isolation: IsolationLevel = .readCommitted,
        readOnly: Bool = false,
        _ body: (PostgresConnection) throws -> T
    ) throws -> T {
        guard transactionStatus == .idle else {
            throw PostgresError(kind: .protocolViolation, message: "cannot begin a transaction: the connection is already in one (\(transactionStatus))")
        }
        try execute("BEGIN ISOLATION LEVEL \(isolation.rawValue)\(readOnly ? " READ ONLY" : "")")
        let value: T
        do {
            value = try body(self)
        } catch {
            rollbackOrClose()
            throw error
        }
        do {
            try execute("COMMIT")
        } catch {
            // A failed COMMIT ends the transaction (as a rollback); make sure nothing is left open.
            if transactionStatus != .idle { rollbackOrClose() }
            throw error
        }
        return value
    }

    /// Rolls back whatever transaction is open; closes the connection if that fails.
    func rollbackOrClose() {
        guard !isBroken else { return }
        do {
            try execute("ROLLBACK")
        } catch {
            logger.warning("postgres rollback failed; closing the connection", metadata: ["error": .string("\(error)")])
            close()
        }
    }

    // MARK: libpq plumbing

    private func openHandle(_ sql: String?) throws -> OpaquePointer {
        guard let handle else {
            throw PostgresError(kind: .connection, message: "the connection is closed", query: sql)
        }
        return handle
    }

    static func errorMessage(_ handle: OpaquePointer) -> String {
        guard let message = PQerrorMessage(handle) else { return "unknown error" }
        return String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Turns a `PGresult` into rows or an error, and frees it.
    private func consume(_ result: OpaquePointer?, sql: String) throws -> PostgresRows {
        guard let handle else {
            if let result { PQclear(result) }
            throw PostgresError(kind: .connection, message: "the connection is closed", query: sql)
        }
        guard let result else {
            throw PostgresError(kind: .connection, message: Self.errorMessage(handle), query: sql)
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        switch status {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY, PGRES_SINGLE_TUPLE:
            return copyRows(result)
        case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
            close()
            throw PostgresError(kind: .protocolViolation, message: "COPY is not supported by this layer; the connection was closed", query: sql)
        default:
            var fields = PostgresError.Fields()
            func field(_ code: Character) -> String? {
                guard let value = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
                return String(cString: value)
            }
            fields.localizedSeverity = field("S")
            fields.severity = field("V")
            fields.sqlState = field("C")
            fields.messagePrimary = field("M")
            fields.detail = field("D")
            fields.hint = field("H")
            fields.statementPosition = field("P").flatMap { Int($0) }
            fields.internalPosition = field("p").flatMap { Int($0) }
            fields.internalQuery = field("q")
            fields.context = field("W")
            fields.schemaName = field("s")
            fields.tableName = field("t")
            fields.columnName = field("c")
            fields.dataTypeName = field("d")
            fields.constraintName = field("n")
            fields.sourceFile = field("F")
            fields.sourceLine = field("L").flatMap { Int($0) }
            fields.sourceFunction = field("R")
            let broken = PQstatus(handle) != CONNECTION_OK
            var message = fields.messagePrimary
            if message == nil, let text = PQresultErrorMessage(result) {
                message = String(cString: text).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            if message?.isEmpty ?? true { message = Self.errorMessage(handle) }
            throw PostgresError(kind: broken ? .connection : .server, message: message ?? "unknown error", fields: fields, query: sql)
        }
    }

    private func copyRows(_ result: OpaquePointer) -> PostgresRows {
        let columnCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        var columns: [PostgresColumn] = []
        columns.reserveCapacity(columnCount)
        for column in 0..<columnCount {
            let name = PQfname(result, Int32(column)).map { String(cString: $0) } ?? "?column?"
            columns.append(PostgresColumn(name: name, type: PostgresDataType(oid: UInt32(PQftype(result, Int32(column))))))
        }
        var cells: [[UInt8]?] = []
        cells.reserveCapacity(columnCount * rowCount)
        for row in 0..<Int32(rowCount) {
            for column in 0..<Int32(columnCount) {
                if PQgetisnull(result, row, column) != 0 {
                    cells.append(nil)
                } else {
                    let length = Int(PQgetlength(result, row, column))
                    let bytes = PQgetvalue(result, row, column).map { pointer in
                        pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
                            Array(UnsafeBufferPointer(start: $0, count: length))
                        }
                    } ?? []
                    cells.append(bytes)
                }
            }
        }
        let tag = PQcmdStatus(result).map { String(cString: $0) } ?? ""
        let tuples = PQcmdTuples(result).map { String(cString: $0) } ?? ""
        return PostgresRows(
            storage: PostgresRows.Storage(columns: columns, cells: cells, rowCount: rowCount),
            commandTag: tag,
            affectedRows: Int(tuples) ?? rowCount
        )
    }
}

// MARK: - Liveness

extension PostgresConnection {
    /// For an idle connection: reads whatever the server sent while we were not looking (a
    /// terminated backend sends an error and closes the socket) without blocking. Returns false
    /// when the connection turns out to be dead.
    func isAliveWhileIdle() -> Bool {
        guard let handle, PQstatus(handle) == CONNECTION_OK else { return false }
        let socket = PQsocket(handle)
        guard socket >= 0 else { return false }
        // A terminated backend sends its FATAL error, then closes: the first read takes the
        // message, a second one sees the end of the stream.
        for _ in 0..<3 {
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 0) > 0 else { break }
            if descriptor.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 && descriptor.revents & Int16(POLLIN) == 0 {
                return false
            }
            if PQconsumeInput(handle) == 0 { return false }
            // Parse what arrived: an error sent to an idle session (FATAL on termination) goes to
            // the notice receiver, which remembers it.
            _ = PQisBusy(handle)
            if noticeBox.sawFatal { return false }
            // Drop notifications nobody listens for on a pooled connection.
            while let notification = PQnotifies(handle) { PQfreemem(notification) }
        }
        return PQstatus(handle) == CONNECTION_OK && !noticeBox.sawFatal
    }
}
