import Foundation
import Logging

/// Everything caas-server is told at start-up. Each setting comes from its flag, else its
/// environment variable, else its default; `resolve` is a pure function so it is tested on values.
public struct ServerConfiguration: Sendable {
    /// `CAAS_LISTEN` / `--listen`: comma-separated addresses.
    public var listen: [ListenAddress] = [.tcp(host: "127.0.0.1", port: 8080)]
    /// `CAAS_DATABASE_URL` / `--database-url`. `nil` starts the embedded PostgreSQL in `dataDirectory`.
    public var databaseURL: String?
    /// `CAAS_DATABASE_PREPARED_STATEMENTS`: statements each database session keeps prepared
    /// (0 prepares none, for a pooler in transaction mode that cannot carry them).
    public var databasePreparedStatements = 256
    /// `CAAS_DATABASE_STATEMENT_TIMEOUT`, `CAAS_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT`: seconds (0:
    /// none) after which PostgreSQL cancels a statement, and ends a session idle inside a
    /// transaction, so no request or loop can hang on the database (migrations run without).
    public var databaseStatementTimeout = 60
    public var databaseIdleInTransactionTimeout = 60
    /// `CAAS_DATA_DIR` / `--data-dir`: the embedded PostgreSQL and local state.
    public var dataDirectory: String = ".caas"
    /// `CAAS_MIGRATIONS_DIR` / `--migrations-dir`; `nil` looks in the usual places (see `MigrationsLocator`).
    public var migrationsDirectory: String?
    /// `CAAS_TLS_CERT`, `CAAS_TLS_KEY`: serve HTTPS when both are set.
    public var tlsCertificateFile: String?
    public var tlsPrivateKeyFile: String?
    /// `CAAS_TLS_CLIENT_CA`: require client certificates signed by this CA.
    public var tlsClientCAFile: String?
    /// `CAAS_LOG_LEVEL`: trace, debug, info, notice, warning, error, critical.
    public var logLevel: Logger.Level = .info
    /// `CAAS_LOG_FORMAT`: text or json.
    public var logFormat: LogFormat = .text
    /// `CAAS_SHUTDOWN_GRACE`: seconds in-flight requests get to finish on SIGTERM.
    public var shutdownGraceSeconds: Double = 10
    /// `--dev`: embedded PostgreSQL, a default tenant, and a local cluster where an engine exists.
    public var dev: Bool = false
    /// Tenancy, authentication, quotas, rate limits, CORS, retention (`TenancySettings`).
    public var tenancy = TenancySettings()
    /// Secrets key, rollout deadline, default cluster network (`ResourceSettings`).
    public var resources = ResourceSettings()
    /// The scheduler's workers (`WorkerSettings`): node timeouts, job lease, reconcile concurrency
    /// and batch; their rollout deadline is `resources.rolloutDeadlineSeconds`.
    public var workers = WorkerSettings()

    public init() {}

    /// Flags as given on the command line (`nil` when absent).
    public struct Flags: Sendable, Equatable {
        public var listen: String?
        public var databaseURL: String?
        public var dataDirectory: String?
        public var migrationsDirectory: String?
        public var tlsCertificateFile: String?
        public var tlsPrivateKeyFile: String?
        public var tlsClientCAFile: String?
        public var logLevel: String?
        public var logFormat: String?
        public var shutdownGraceSeconds: String?
        public var dev: Bool = false

        public init() {}
    }

    public static func resolve(flags: Flags, environment: [String: String]) throws(ConfigurationError) -> ServerConfiguration {
        func value(_ flag: String?, _ variable: String) -> String? {
            if let flag, !flag.isEmpty { return flag }
            if let env = environment[variable], !env.isEmpty { return env }
            return nil
        }
        var config = ServerConfiguration()
        config.dev = flags.dev || environment["CAAS_DEV"] == "1"
        if let listen = value(flags.listen, "CAAS_LISTEN") {
            var addresses: [ListenAddress] = []
            for part in listen.split(separator: ",") {
                addresses.append(try ListenAddress(parsing: String(part)))
            }
            guard !addresses.isEmpty else { throw ConfigurationError(setting: "CAAS_LISTEN", message: "no address given") }
            config.listen = addresses
        }
        config.databaseURL = value(flags.databaseURL, "CAAS_DATABASE_URL")
        if let prepared = environment["CAAS_DATABASE_PREPARED_STATEMENTS"], !prepared.isEmpty {
            guard let count = Int(prepared), (0...10_000).contains(count) else {
                throw ConfigurationError(setting: "CAAS_DATABASE_PREPARED_STATEMENTS",
                                         message: "\(prepared) is not a number of statements between 0 and 10000")
            }
            config.databasePreparedStatements = count
        }
        for (name, keyPath) in [("CAAS_DATABASE_STATEMENT_TIMEOUT", \ServerConfiguration.databaseStatementTimeout),
                                ("CAAS_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT", \ServerConfiguration.databaseIdleInTransactionTimeout)] {
            guard let text = environment[name], !text.isEmpty else { continue }
            guard let seconds = Int(text), (0...86_400).contains(seconds) else {
                throw ConfigurationError(setting: name, message: "\(text) is not a number of seconds from 0 to 86400")
            }
            config[keyPath: keyPath] = seconds
        }
        if let dir = value(flags.dataDirectory, "CAAS_DATA_DIR") { config.dataDirectory = dir }
        config.migrationsDirectory = value(flags.migrationsDirectory, "CAAS_MIGRATIONS_DIR")
        config.tlsCertificateFile = value(flags.tlsCertificateFile, "CAAS_TLS_CERT")
        config.tlsPrivateKeyFile = value(flags.tlsPrivateKeyFile, "CAAS_TLS_KEY")
        config.tlsClientCAFile = value(flags.tlsClientCAFile, "CAAS_TLS_CLIENT_CA")
        if (config.tlsCertificateFile == nil) != (config.tlsPrivateKeyFile == nil) {
            throw ConfigurationError(setting: "CAAS_TLS_CERT/CAAS_TLS_KEY", message: "give both the certificate and the key, or neither")
        }
        if config.tlsClientCAFile != nil, config.tlsCertificateFile == nil {
            throw ConfigurationError(setting: "CAAS_TLS_CLIENT_CA", message: "client certificates need TLS: set CAAS_TLS_CERT and CAAS_TLS_KEY")
        }
        if let level = value(flags.logLevel, "CAAS_LOG_LEVEL") {
            guard let parsed = Logger.Level(rawValue: level.lowercased()) else {
                let names = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
                throw ConfigurationError(setting: "CAAS_LOG_LEVEL", message: "\(level) is not one of \(names)")
            }
            config.logLevel = parsed
        }
        if let format = value(flags.logFormat, "CAAS_LOG_FORMAT") {
            guard let parsed = LogFormat(rawValue: format.lowercased()) else {
                throw ConfigurationError(setting: "CAAS_LOG_FORMAT", message: "\(format) is not text or json")
            }
            config.logFormat = parsed
        }
        if let grace = value(flags.shutdownGraceSeconds, "CAAS_SHUTDOWN_GRACE") {
            guard let seconds = Double(grace), seconds >= 0, seconds <= 3600 else {
                throw ConfigurationError(setting: "CAAS_SHUTDOWN_GRACE", message: "\(grace) is not a number of seconds between 0 and 3600")
            }
            config.shutdownGraceSeconds = seconds
        }
        config.tenancy = try TenancySettings.resolve(environment: environment)
        config.resources = try ResourceSettings.resolve(environment: environment)
        config.workers = try WorkerSettings.resolve(environment: environment)
        config.workers.planner.rolloutTimeout = TimeInterval(config.resources.rolloutDeadlineSeconds)
        return config
    }
}
