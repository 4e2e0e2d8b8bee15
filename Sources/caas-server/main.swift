// caas-server: configuration and start-up only. Everything else lives in CaaSServer.
import ArgumentParser
import CaaSServer
import Foundation
import Logging

struct ServerOptions: ParsableArguments {
    @Option(help: "Addresses to listen on, comma-separated: host:port, [ipv6]:port, :port, unix:/path. (CAAS_LISTEN, default 127.0.0.1:8080)")
    var listen: String?
    @Option(help: "PostgreSQL URL; without it an embedded PostgreSQL runs in the data directory. (CAAS_DATABASE_URL)")
    var databaseURL: String?
    @Option(help: "Data directory for the embedded PostgreSQL. (CAAS_DATA_DIR, default .caas)")
    var dataDir: String?
    @Option(help: "The migrations folder. (CAAS_MIGRATIONS_DIR, default: found beside the executable or checkout)")
    var migrationsDir: String?
    @Option(help: "TLS certificate chain (PEM). (CAAS_TLS_CERT)")
    var tlsCert: String?
    @Option(help: "TLS private key (PEM). (CAAS_TLS_KEY)")
    var tlsKey: String?
    @Option(help: "Require client certificates signed by this CA (PEM). (CAAS_TLS_CLIENT_CA)")
    var tlsClientCA: String?
    @Option(help: "trace, debug, info, notice, warning, error, critical. (CAAS_LOG_LEVEL, default info)")
    var logLevel: String?
    @Option(help: "text or json. (CAAS_LOG_FORMAT, default text)")
    var logFormat: String?
    @Option(help: "Seconds in-flight requests get on SIGTERM/SIGINT. (CAAS_SHUTDOWN_GRACE, default 10)")
    var shutdownGrace: String?
    @Flag(help: "Development mode: also create a default tenant and print its admin token. (CAAS_DEV=1)")
    var dev = false

    func configuration() throws -> ServerConfiguration {
        var flags = ServerConfiguration.Flags()
        flags.listen = listen
        flags.databaseURL = databaseURL
        flags.dataDirectory = dataDir
        flags.migrationsDirectory = migrationsDir
        flags.tlsCertificateFile = tlsCert
        flags.tlsPrivateKeyFile = tlsKey
        flags.tlsClientCAFile = tlsClientCA
        flags.logLevel = logLevel
        flags.logFormat = logFormat
        flags.shutdownGraceSeconds = shutdownGrace
        flags.dev = dev
        do {
            return try ServerConfiguration.resolve(flags: flags, environment: ProcessInfo.processInfo.environment)
        } catch {
            throw ValidationError(error.description)
        }
    }
}

@main
struct CaaSServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "caas-server",
        abstract: "The caas control plane: REST API and workers.",
        discussion: """
        Every option can also be given as an environment variable (named in its help).
        Example: caas-server --dev --listen 127.0.0.1:8080
        """,
        version: CaaSVersion.version,
        subcommands: [Serve.self, Migrate.self, RotateSystemToken.self],
        defaultSubcommand: Serve.self
    )

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve the API and run the workers (the default).")
        @OptionGroup var options: ServerOptions

        func run() async throws {
            try await options.run(failing: "caas-server failed") { try await ServerRuntime.serve(configuration: $0, logger: $1) }
        }
    }

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply pending database migrations and exit.",
                                                        discussion: "Example: CAAS_DATABASE_URL=postgresql://caas@db/caas caas-server migrate")
        @OptionGroup var options: ServerOptions

        func run() async throws {
            try await options.run(failing: "migration failed") { try await ServerRuntime.migrate(configuration: $0, logger: $1) }
        }
    }

    struct RotateSystemToken: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-system-token",
            abstract: "Make a new system administrator token and revoke every earlier one; prints the new one once.",
            discussion: """
                Unset CAAS_BOOTSTRAP_TOKEN (or set it to the new token) before the next start: a \
                changed CAAS_BOOTSTRAP_TOKEN is itself a rotation.
                Example: CAAS_DATABASE_URL=postgresql://caas@db/caas caas-server rotate-system-token
                """)
        @OptionGroup var options: ServerOptions

        func run() async throws {
            try await options.run(failing: "rotating the system token failed") { configuration, logger in
                let secret = try await ServerRuntime.rotateSystemToken(configuration: configuration, logger: logger)
                print("caas: new system administrator token (shown once, keep it safe): \(secret)")
                print("caas: every earlier system administrator token is revoked")
            }
        }
    }
}

extension ServerOptions {
    /// What every subcommand does: resolve the configuration, set up logging, run `body`; a
    /// failure is logged as `what` and exits 1.
    func run(failing what: String, _ body: (ServerConfiguration, Logger) async throws -> Void) async throws {
        let configuration = try configuration()
        LogSetup.bootstrap(format: configuration.logFormat, level: configuration.logLevel)
        let logger = Logger(label: "caas.server")
        do {
            try await body(configuration, logger)
        } catch {
            logger.critical("\(what)", metadata: ["error": "\(error)"])
            throw ExitCode.failure
        }
    }
}
