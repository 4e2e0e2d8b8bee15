import CaaSPostgres
import Foundation
import Logging

/// The PostgreSQL caas-server uses: the configured URL, or an embedded server in
/// `<data-dir>/postgres` (initdb on first start, reused afterwards, stopped on shutdown).
public struct Database: Sendable {
    public let url: String
    /// Set when this process runs the server itself.
    public let embedded: EmbeddedPostgres?
    /// Statements each pooled session keeps prepared (`CAAS_DATABASE_PREPARED_STATEMENTS`).
    public var preparedStatements = 256
    /// Seconds (0: none) of `statement_timeout` and `idle_in_transaction_session_timeout`.
    public var statementTimeout = 60
    public var idleInTransactionTimeout = 60

    public static func open(_ configuration: ServerConfiguration, logger: Logger) async throws -> Database {
        if let url = configuration.databaseURL {
            return Database(url: url, embedded: nil, preparedStatements: configuration.databasePreparedStatements,
                            statementTimeout: configuration.databaseStatementTimeout,
                            idleInTransactionTimeout: configuration.databaseIdleInTransactionTimeout)
        }
        let directory = URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent("postgres").standardizedFileURL.path
        logger.info("starting the embedded PostgreSQL", metadata: ["data_dir": .string(directory)])
        let server = try await EmbeddedPostgres.launch(.init(dataDirectory: directory, database: "caas"), logger: logger)
        return Database(url: server.url, embedded: server, preparedStatements: configuration.databasePreparedStatements,
                        statementTimeout: configuration.databaseStatementTimeout,
                        idleInTransactionTimeout: configuration.databaseIdleInTransactionTimeout)
    }

    public func makePool(logger: Logger, maxConnections: Int = 20) -> PostgresPool {
        PostgresPool(configuration: .init(connection: PostgresConfiguration(url: url, applicationName: "caas-server",
                                                                                sessionSettings: sessionSettings,
                                                                                preparedStatementLimit: preparedStatements),
                                          maxConnections: maxConnections),
                     logger: logger)
    }

    /// What every pooled session sets: UTC, and the two timeouts.
    var sessionSettings: [String: String] {
        ["TimeZone": "UTC", "statement_timeout": "\(statementTimeout)s", "idle_in_transaction_session_timeout": "\(idleInTransactionTimeout)s"]
    }

    public func makeListener() -> PostgresListener {
        PostgresListener(configuration: PostgresConfiguration(url: url, applicationName: "caas-server-listen"))
    }

    /// Stops the embedded server, if this process runs one.
    public func close(logger: Logger) async {
        guard let embedded else { return }
        do {
            try await embedded.shutdown(mode: .fast)
        } catch {
            logger.error("stopping the embedded PostgreSQL failed", metadata: ["error": "\(error)"])
        }
    }
}
