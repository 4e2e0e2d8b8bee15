import CaaSHTTP
import CaaSPostgres
import Foundation
import Logging

/// caas-server's life: database (configured or embedded), migrations, the control plane, the HTTP
/// server and the background loops; on SIGTERM/SIGINT a graceful stop in the reverse order.
public enum ServerRuntime {
    /// Applies pending migrations and returns (`caas-server migrate`).
    public static func migrate(configuration: ServerConfiguration, logger: Logger) async throws {
        let database = try await Database.open(configuration, logger: logger)
        let pool = database.makePool(logger: logger, maxConnections: 2)
        do {
            let applied = try await makeMigrator(configuration: configuration, pool: pool, logger: logger).migrate()
            logger.info("migrations applied", metadata: ["count": "\(applied.count)", "files": "\(applied.map(\.fileName))"])
        } catch {
            pool.shutdown()
            await database.close(logger: logger)
            throw error
        }
        pool.shutdown()
        await database.close(logger: logger)
    }

    /// Serves until SIGTERM or SIGINT.
    public static func serve(configuration: ServerConfiguration, logger: Logger) async throws {
        let database = try await Database.open(configuration, logger: logger)
        let pool = database.makePool(logger: logger)
        let listener = database.makeListener()
        var background: [Task<Void, Never>] = []
        defer {
            for task in background { task.cancel() }
        }
        do {
            let migrator = try makeMigrator(configuration: configuration, pool: pool, logger: logger)
            let applied = try await migrator.migrate()
            if !applied.isEmpty {
                logger.info("migrations applied", metadata: ["files": "\(applied.map(\.fileName))"])
            }

            var configuration = configuration
            if configuration.resources.secretsKey == nil {
                guard database.embedded != nil else {
                    throw ConfigurationError(setting: "CAAS_SECRETS_KEY",
                                             message: "required with CAAS_DATABASE_URL (e.g. `openssl rand -hex 32`): it seals application secrets at rest")
                }
                configuration.resources.secretsKey = try SecretsKeyFile.loadOrCreate(dataDirectory: configuration.dataDirectory)
            }
            let plane = ControlPlane(configuration: configuration, pool: pool, logger: logger)
            // Tokens are shown once: write them out now, not when stdout's buffer fills.
            try await plane.bootstrap(print: { line in FileHandle.standardOutput.write(Data((line + "\n").utf8)) })

            var router = Router()
            router.add(middleware: AccessLogMiddleware())
            router.add(middleware: RecoveryMiddleware())
            HealthRoutes(pool: pool, migrator: migrator).register(on: &router)
            plane.register(on: &router)

            let server = try HTTPServer(configuration: httpConfiguration(configuration), responder: router, logger: logger)
            try server.start()
            logger.info("caas-server listening", metadata: [
                "addresses": .array(server.addresses.map { .string($0.description) }),
                "version": .string(CaaSVersion.version),
                "database": .string(database.embedded == nil ? "external" : "embedded"),
            ])
            background.append(Task { await plane.run() })
            // The scheduler's workers: reconcile and push job loops (woken by LISTEN caas_jobs) and the
            // singleton loops under an advisory lock. Agent channels come with agent joining (mTLS);
            // until a cluster has one, its pushes wait and retry with backoff.
            let jobSignal = PostgresJobSignal(listener: listener)
            try await jobSignal.start()
            let workers = SchedulerWorkers(store: plane.store, database: pool.configuration.connection, agents: StaticAgentDirectory(),
                                           settings: WorkerSettings.fromEnvironment(), signal: jobSignal, logger: logger)
            background.append(Task { await workers.run() })
            background.append(Task {
                do { try await plane.listenForEvents(listener) } catch {
                    logger.error("event listener stopped", metadata: ["error": "\(error)"])
                }
            })
            let signals = server.shutdownOnSignals(gracePeriod: .milliseconds(Int64(configuration.shutdownGraceSeconds * 1000)))
            await server.waitUntilStopped()
            signals.cancel()
            logger.info("caas-server stopping")
        } catch {
            await stop(background: background, listener: listener, pool: pool, database: database, logger: logger)
            throw error
        }
        await stop(background: background, listener: listener, pool: pool, database: database, logger: logger)
        background = []
    }

    static func stop(background: [Task<Void, Never>], listener: PostgresListener, pool: PostgresPool, database: Database, logger: Logger) async {
        for task in background { task.cancel() }
        for task in background { await task.value }
        listener.shutdown()
        pool.shutdown()
        await database.close(logger: logger)
    }

    static func makeMigrator(configuration: ServerConfiguration, pool: PostgresPool, logger: Logger) throws -> Migrator {
        let directory = try MigrationsLocator.locate(configured: configuration.migrationsDirectory)
        return try Migrator(pool: pool, directory: directory, logger: logger)
    }

    static func httpConfiguration(_ configuration: ServerConfiguration) -> HTTPServerConfiguration {
        var limits = HTTPServerLimits()
        limits.maxBodySize = configuration.tenancy.maximumBodyBytes
        let addresses: [HTTPServerConfiguration.Address] = configuration.listen.map {
            switch $0 {
            case .tcp(let host, let port): .tcp(host: host, port: port)
            case .unix(let path): .unix(path: path)
            }
        }
        var tls: TLSConfiguration?
        if let certificate = configuration.tlsCertificateFile, let key = configuration.tlsPrivateKeyFile {
            tls = TLSConfiguration(certificateChainFile: certificate, privateKeyFile: key, trustedCAFile: configuration.tlsClientCAFile,
                                   requireClientCertificate: configuration.tlsClientCAFile != nil)
        }
        return HTTPServerConfiguration(addresses: addresses, limits: limits, tls: tls)
    }
}
