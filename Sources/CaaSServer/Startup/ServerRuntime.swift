import CaaSHTTP
import CaaSPostgres
import CaaSStore
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

    /// Makes a new system administrator token and revokes the others (`caas-server rotate-system-token`).
    public static func rotateSystemToken(configuration: ServerConfiguration, logger: Logger) async throws -> String {
        let database = try await Database.open(configuration, logger: logger)
        let pool = database.makePool(logger: logger, maxConnections: 2)
        defer { pool.shutdown() }
        do {
            _ = try await makeMigrator(configuration: configuration, pool: pool, logger: logger).migrate()
            let plane = ControlPlane(store: Store(source: pool, logger: logger), settings: configuration.tenancy, logger: logger)
            let secret = try await plane.rotateSystemToken()
            await database.close(logger: logger)
            return secret
        } catch {
            await database.close(logger: logger)
            throw error
        }
    }

    /// Serves until SIGTERM or SIGINT.
    public static func serve(configuration: ServerConfiguration, logger: Logger) async throws {
        let database = try await Database.open(configuration, logger: logger)
        let pool = database.makePool(logger: logger)
        // The agent channel's own connections: heartbeats and reports never wait behind API
        // requests, so a flood of API (or /readyz) calls cannot make nodes look down.
        let agentPool = database.makePool(logger: logger, maxConnections: 6)
        let listener = database.makeListener()
        var background: [Task<Void, Never>] = []
        var agentChannel: AgentChannelService?
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
            // The agent channel (CAs, mTLS listener for agents, push directory) and the scheduler's
            // workers, woken by LISTEN/NOTIFY on the jobs channel.
            let store = Store(source: pool, logger: logger)
            let signal = PostgresJobSignal(listener: listener)
            try await signal.start()
            let agentSettings = try AgentChannelSettings.resolve(environment: ProcessInfo.processInfo.environment)
            let channel = try await AgentChannelService.start(store: Store(source: agentPool, logger: logger), secretsKey: configuration.resources.secretsKey ?? [],
                                                              settings: agentSettings, signal: signal,
                                                              quotas: configuration.tenancy.quotaDefaults, logger: logger)
            agentChannel = channel
            let plane = ControlPlane(store: store, settings: configuration.tenancy, resources: configuration.resources,
                                     dev: configuration.dev, additionalRoutes: channel.routes, logger: logger)
            // The scheduler's workers: reconcile and push job loops (woken by LISTEN caas_jobs) and the
            // singleton loops under an advisory lock; pushes go to each cluster's agent over mTLS.
            var workerSettings = configuration.workers
            workerSettings.quotas = configuration.tenancy.quotaDefaults
            let workers = SchedulerWorkers(store: store, database: pool.configuration.connection, agents: channel.directory,
                                           secretsKey: plane.secretsKey,
                                           settings: workerSettings, signal: signal, logger: logger)
            background.append(Task { await workers.run() })
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
            await agentChannel?.shutdown()
            await stop(background: background, listener: listener, pools: [pool, agentPool], database: database, logger: logger)
            throw error
        }
        await agentChannel?.shutdown()
        await stop(background: background, listener: listener, pools: [pool, agentPool], database: database, logger: logger)
        background = []
    }

    static func stop(background: [Task<Void, Never>], listener: PostgresListener, pools: [PostgresPool], database: Database, logger: Logger) async {
        for task in background { task.cancel() }
        for task in background { await task.value }
        listener.shutdown()
        for pool in pools { pool.shutdown() }
        await database.close(logger: logger)
    }

    static func makeMigrator(configuration: ServerConfiguration, pool: PostgresPool, logger: Logger) throws -> Migrator {
        let directory = try MigrationsLocator.locate(configured: configuration.migrationsDirectory)
        return try Migrator(pool: pool, directory: directory, logger: logger)
    }

    static func httpConfiguration(_ configuration: ServerConfiguration) -> HTTPServerConfiguration {
        var limits = HTTPServerLimits()
        limits.maxBodySize = configuration.tenancy.maximumBodyBytes
        limits.maxConnectionsPerAddress = configuration.tenancy.maximumConnectionsPerAddress
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
        var http = HTTPServerConfiguration(addresses: addresses, limits: limits, tls: tls)
        let proxies = configuration.tenancy.trustedProxies
        http.exemptFromAddressLimit = { proxies.trusts($0) }
        return http
    }
}
