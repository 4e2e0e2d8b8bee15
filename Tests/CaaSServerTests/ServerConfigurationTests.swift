import Testing
@testable import CaaSServer

@Suite struct ServerConfigurationTests {
    @Test func defaultsListenOnLoopbackWithTheEmbeddedDatabase() throws {
        let config = try ServerConfiguration.resolve(flags: .init(), environment: [:])
        #expect(config.listen == [.tcp(host: "127.0.0.1", port: 8080)])
        #expect(config.databaseURL == nil)
        #expect(config.dataDirectory == ".caas")
        #expect(config.databasePreparedStatements == 256)
    }

    @Test func preparedStatementsCanBeTurnedOffForPoolersInTransactionMode() throws {
        let off = try ServerConfiguration.resolve(flags: .init(), environment: ["CAAS_DATABASE_PREPARED_STATEMENTS": "0"])
        #expect(off.databasePreparedStatements == 0)
        #expect(throws: ConfigurationError(setting: "CAAS_DATABASE_PREPARED_STATEMENTS",
                                           message: "lots is not a number of statements between 0 and 10000")) {
            try ServerConfiguration.resolve(flags: .init(), environment: ["CAAS_DATABASE_PREPARED_STATEMENTS": "lots"])
        }
    }

    @Test func flagsWinOverEnvironment() throws {
        var flags = ServerConfiguration.Flags()
        flags.listen = "[::1]:9000,unix:/tmp/caas.sock"
        let config = try ServerConfiguration.resolve(flags: flags, environment: ["CAAS_LISTEN": "0.0.0.0:1", "CAAS_LOG_FORMAT": "json"])
        #expect(config.listen == [.tcp(host: "::1", port: 9000), .unix(path: "/tmp/caas.sock")])
        #expect(config.logFormat == .json)
    }

    @Test func badSettingsNameTheSettingAtFault() {
        #expect(throws: ConfigurationError(setting: "listen", message: "invalid port in 127.0.0.1:99999")) {
            try ServerConfiguration.resolve(flags: .init(), environment: ["CAAS_LISTEN": "127.0.0.1:99999"])
        }
        #expect(throws: ConfigurationError.self) {
            try ServerConfiguration.resolve(flags: .init(), environment: ["CAAS_LOG_LEVEL": "loud"])
        }
        #expect(throws: ConfigurationError.self) {
            try ServerConfiguration.resolve(flags: .init(), environment: ["CAAS_TLS_CERT": "/x.pem"])
        }
    }

    @Test func trustedProxiesComeFromTheEnvironment() throws {
        let settings = try TenancySettings.resolve(environment: ["CAAS_TRUSTED_PROXIES": "10.0.0.0/8,fd00::1"])
        #expect(settings.trustedProxies.trusts("10.9.9.9") && settings.trustedProxies.trusts("fd00::1"))
        #expect(TenancySettings().trustedProxies.isEmpty)
        #expect(throws: ConfigurationError.self) {
            try TenancySettings.resolve(environment: ["CAAS_TRUSTED_PROXIES": "10.0.0.0/8,lb.internal"])
        }
    }

    @Test func aNumberOutOfRangeSaysTheRange() {
        #expect(throws: ConfigurationError(setting: "CAAS_RATE_LIMIT", message: "1000000 is out of range: more than 0 and less than 1000000")) {
            try TenancySettings.resolve(environment: ["CAAS_RATE_LIMIT": "1000000"])
        }
        #expect(throws: ConfigurationError(setting: "CAAS_RATE_LIMIT", message: "lots is not a number")) {
            try TenancySettings.resolve(environment: ["CAAS_RATE_LIMIT": "lots"])
        }
    }

    @Test func theConnectionCapPerAddressIsSetAndTrustedProxiesAreNotCounted() throws {
        #expect(TenancySettings().maximumConnectionsPerAddress == 256)
        var configuration = ServerConfiguration()
        configuration.tenancy = try TenancySettings.resolve(environment: ["CAAS_MAX_CONNECTIONS_PER_ADDRESS": "20", "CAAS_TRUSTED_PROXIES": "10.0.0.0/8"])
        let http = ServerRuntime.httpConfiguration(configuration)
        #expect(http.limits.maxConnectionsPerAddress == 20)
        #expect(http.exemptFromAddressLimit("10.1.2.3") && !http.exemptFromAddressLimit("192.0.2.1"))
        #expect(throws: ConfigurationError(setting: "CAAS_MAX_CONNECTIONS_PER_ADDRESS", message: "0 is not an integer from 1 to 1000000")) {
            try TenancySettings.resolve(environment: ["CAAS_MAX_CONNECTIONS_PER_ADDRESS": "0"])
        }
    }

    @Test func workerSettingsAreCheckedAndTheRolloutDeadlineIsOneSetting() throws {
        let configuration = try ServerConfiguration.resolve(flags: .init(), environment: [
            "CAAS_NODE_DOWN_AFTER": "7.5", "CAAS_RECONCILE_BATCH": "8", "CAAS_ROLLOUT_DEADLINE": "120",
        ])
        #expect(configuration.workers.nodeDownAfter == 7.5 && configuration.workers.reconcileBatch == 8)
        #expect(configuration.resources.rolloutDeadlineSeconds == 120 && configuration.workers.planner.rolloutTimeout == 120)
        #expect(throws: ConfigurationError(setting: "CAAS_JOB_LEASE", message: "0 is not a number of seconds from 1 to 3600")) {
            try ServerConfiguration.resolve(flags: .init(), environment: ["CAAS_JOB_LEASE": "0"])
        }
        #expect(throws: ConfigurationError(setting: "CAAS_RECONCILE_CONCURRENCY", message: "many is not an integer from 1 to 64")) {
            try ServerConfiguration.resolve(flags: .init(), environment: ["CAAS_RECONCILE_CONCURRENCY": "many"])
        }
    }
}
