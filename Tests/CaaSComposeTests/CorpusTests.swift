import CaaSCompose
import CaaSModel
import Foundation
import Testing

/// Real-world-shaped compose files (`Fixtures/corpus/`), each with its asserted outcome.
@Suite struct CorpusTests {
    @Test(arguments: CorpusManifest.valid + CorpusManifest.invalid)
    func corpusFileParsesToItsExpectedOutcome(_ c: CorpusCase) throws {
        let text = try fixtureText("corpus/" + c.file)
        let result = ComposeParser.parse(text, variables: c.variables)
        switch c.outcome {
        case let .valid(warnings, check):
            let spec = try #require(result.spec, "\(c.file) should be valid:\n\(result.diagnostics.map(\.description).joined(separator: "\n"))")
            expectDiagnostics(result.diagnostics, warnings)
            try check(spec, result)
        case let .invalid(expected):
            #expect(result.spec == nil, "\(c.file) should be rejected")
            expectDiagnostics(result.diagnostics, expected)
        }
    }

    @Test func corpusManifestCoversEveryFileExactlyOnce() throws {
        let listed = (CorpusManifest.valid + CorpusManifest.invalid).map(\.file)
        let directory = try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures/corpus")
        let onDisk = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yml") }
        #expect(Set(listed) == Set(onDisk))
        #expect(Set(listed).count == listed.count, "a file is listed twice")
        #expect(listed.count >= 40)
    }
}

enum CorpusManifest {
    static let valid: [CorpusCase] = [
        .valid("v3-postgres-redis-web.yml", warnings: [
            .warning(4, "services.web.build", "caas deploys images; 'build' is ignored"),
            .warning(14, "services.web.depends_on", "'depends_on' orders nothing"),
        ]) { spec, _ in
            #expect(spec.services.map(\.name) == ["web", "postgres", "redis"])
            let web = svc(spec, "web")
            #expect(web.image == "registry.example.com/shop/web:1.4.2")
            #expect(web.command == ["gunicorn", "app:wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"])
            #expect(web.environment.first { $0.name == "DEBUG" }?.value == "false")
            #expect(web.environment.first { $0.name == "WORKERS" }?.value == "3")
            #expect(web.ports == [PortMapping(target: PortRange(8000), published: PortRange(8000))])
            #expect(web.dependsOn == [ServiceDependency(service: "postgres"), ServiceDependency(service: "redis")])
            #expect(web.restart == .unlessStopped)
            let postgres = svc(spec, "postgres")
            #expect(postgres.volumes == [VolumeMount(kind: .volume, source: "pgdata", target: "/var/lib/postgresql/data")])
            #expect(postgres.healthcheck == HealthCheck(test: ["CMD-SHELL", "pg_isready -U shop"], intervalSeconds: 10, timeoutSeconds: 5, retries: 5))
            #expect(svc(spec, "redis").command == ["redis-server", "--appendonly", "yes"])
            #expect(spec.volumes.map(\.name) == ["pgdata", "redisdata"])
        },
        .valid("v2-traefik.yml") { spec, _ in
            let traefik = svc(spec, "traefik")
            #expect(traefik.command == ["--providers.docker=true", "--entrypoints.web.address=:80"])
            #expect(traefik.ports == [
                PortMapping(target: PortRange(80), published: PortRange(80)),
                PortMapping(target: PortRange(8080), published: PortRange(8080), hostIP: "127.0.0.1"),
            ])
            #expect(traefik.volumes == [VolumeMount(kind: .bind, source: "/var/run/docker.sock", target: "/var/run/docker.sock", readOnly: true)])
            let whoami = svc(spec, "whoami")
            #expect(whoami.replicas == 2)
            #expect(whoami.labels["traefik.http.routers.whoami.rule"] == "Host(`whoami.localhost`)")
            #expect(whoami.labels.count == 3)
        },
        .valid("spec-nginx-front.yml", warnings: [
            .warning(11, "services.nginx.depends_on", "'depends_on' orders nothing"),
            .warning(16, "services.api.expose", "'expose' restricts nothing"),
        ]) { spec, _ in
            #expect(spec.name == "shop")
            let nginx = svc(spec, "nginx")
            #expect(nginx.ports.map(\.target.lower) == [443, 80])
            #expect(nginx.volumes.first == VolumeMount(kind: .bind, source: "./nginx.conf", target: "/etc/nginx/nginx.conf", readOnly: true))
            #expect(nginx.dependsOn == [ServiceDependency(service: "api", condition: .serviceHealthy)])
            let api = svc(spec, "api")
            #expect(api.expose == [PortRange(3000)])
            #expect(api.environment == [EnvironmentVariable(name: "NODE_ENV", value: "production"), EnvironmentVariable(name: "PORT", value: "3000")])
            #expect(api.healthcheck?.test == ["CMD-SHELL", "curl -fsS http://localhost:3000/healthz || exit 1"])
            #expect(api.healthcheck?.startPeriodSeconds == 60)
            #expect(api.healthcheck?.timeoutSeconds == 3)
            #expect(api.stopGracePeriodSeconds == 90)
        },
        .valid("v2-elastic-stack.yml", warnings: [
            .warning(9, "services.elasticsearch.ulimits", "'ulimits' is not supported"),
            .warning(26, "services.logstash.depends_on", "'depends_on' orders nothing"),
            .warning(34, "services.kibana.depends_on", "'depends_on' orders nothing"),
        ]) { spec, _ in
            let es = svc(spec, "elasticsearch")
            #expect(es.environment.map(\.name) == ["discovery.type", "ES_JAVA_OPTS", "bootstrap.memory_lock"])
            #expect(es.environment[1].value == "-Xms512m -Xmx512m")
            #expect(es.resources.limits.memoryBytes == 1 << 30)
            let logstash = svc(spec, "logstash")
            #expect(logstash.ports.last == PortMapping(target: PortRange(12201, protocol: .udp), published: PortRange(12201, protocol: .udp)))
            #expect(svc(spec, "kibana").dependsOn.map(\.service) == ["elasticsearch"])
        },
        .valid("v1-legacy.yml", warnings: [
            .warning(4, "web.links", "'links' resolve on clusters with node_subnets networking only"),
        ]) { spec, _ in
            #expect(spec.services.map(\.name) == ["web", "db", "cache"])
            let web = svc(spec, "web")
            #expect(web.links == [ServiceLink(target: "db"), ServiceLink(target: "cache", alias: "memcached")])
            #expect(web.volumes == [VolumeMount(kind: .volume, source: "uploads", target: "/srv/uploads")])
            #expect(spec.volumes == [VolumeSpec(name: "uploads")], "v1 named volumes are declared implicitly")
            #expect(svc(spec, "db").networkMode == "bridge", "v1 'net' is network_mode")
        },
        .valid("ports-short-forms.yml") { spec, _ in
            let ports = svc(spec, "app").ports
            #expect(ports == [
                PortMapping(target: PortRange(80)),
                PortMapping(target: PortRange(80), published: PortRange(8080)),
                PortMapping(target: PortRange(81), published: PortRange(8081), hostIP: "127.0.0.1"),
                PortMapping(target: PortRange(82), hostIP: "127.0.0.1"),
                PortMapping(target: PortRange(8000, 8010), published: PortRange(8000, 8010)),
                PortMapping(target: PortRange(8080, 8081), published: PortRange(9090, 9091)),
                PortMapping(target: PortRange(6060, protocol: .udp), published: PortRange(6060, protocol: .udp)),
                PortMapping(target: PortRange(443), published: PortRange(8443), hostIP: "::1"),
                PortMapping(target: PortRange(3000)),
                PortMapping(target: PortRange(5000, 5002)),
                PortMapping(target: PortRange(7000, protocol: .sctp), published: PortRange(7000, protocol: .sctp)),
            ])
        },
        .valid("ports-long-form.yml") { spec, _ in
            let ports = svc(spec, "app").ports
            #expect(ports == [
                PortMapping(target: PortRange(80), published: PortRange(8080), mode: .host),
                PortMapping(target: PortRange(53, protocol: .udp), published: PortRange(5353, protocol: .udp)),
                PortMapping(target: PortRange(443), published: PortRange(8443), hostIP: "10.0.0.5", mode: .ingress),
                PortMapping(target: PortRange(9000, 9001), published: PortRange(19000, 19001)),
                PortMapping(target: PortRange(22)),
            ])
        },
        .valid("volumes-forms.yml") { spec, _ in
            let volumes = svc(spec, "app").volumes
            #expect(volumes == [
                VolumeMount(kind: .volume, source: "data", target: "/var/lib/app"),
                VolumeMount(kind: .volume, source: "data", target: "/var/lib/app-ro", readOnly: true),
                VolumeMount(kind: .bind, source: "./config", target: "/etc/app", readOnly: true),
                VolumeMount(kind: .bind, source: "../shared", target: "/shared"),
                VolumeMount(kind: .bind, source: "/var/log/app", target: "/var/log/app"),
                VolumeMount(kind: .bind, source: "~/cache", target: "/cache"),
                VolumeMount(kind: .anonymous, source: nil, target: "/tmp/scratch"),
                VolumeMount(kind: .volume, source: "logs", target: "/logs"),
                VolumeMount(kind: .volume, source: "data", target: "/backup", readOnly: true),
                VolumeMount(kind: .bind, source: "/etc/localtime", target: "/etc/localtime", readOnly: true),
                VolumeMount(kind: .tmpfs, source: nil, target: "/run"),
                VolumeMount(kind: .anonymous, source: nil, target: "/anon"),
                VolumeMount(kind: .tmpfs, source: nil, target: "/tmp"),
            ])
        },
        .valid("top-level-volumes.yml") { spec, _ in
            #expect(spec.volumes == [
                VolumeSpec(name: "dbdata", driver: "local", driverOptions: ["type": "none", "o": "bind", "device": "/mnt/disks/db"], labels: ["com.example.tier": "data"]),
                VolumeSpec(name: "shared", external: true),
                VolumeSpec(name: "legacy", external: true, externalName: "legacy-volume-2016"),
                VolumeSpec(name: "oss", driver: "ossfs", driverOptions: ["bucket": "acs-sample", "url": "oss-cn-hangzhou.aliyuncs.com"], labels: ["backup": "daily"]),
            ])
        },
        .valid("interpolation-all.yml", variables: ["TAG": "1.0", "USER_NAME": "ana", "DOMAIN": "web.example.com", "MODE": "x", "PASSTHROUGH": "from-deploy"]) { spec, result in
            let web = svc(spec, "web")
            #expect(web.image == "docker.io/acme/web:1.0")
            #expect(web.ports == [PortMapping(target: PortRange(80), published: PortRange(8080))])
            #expect(web.environment == [
                EnvironmentVariable(name: "GREETING", value: "hello ana"),
                EnvironmentVariable(name: "PRICE", value: "$5"),
                EnvironmentVariable(name: "MODE", value: "custom"),
                EnvironmentVariable(name: "PASSTHROUGH", value: "from-deploy"),
            ])
            #expect(web.replicas == 2)
            #expect(web.routes == [Route(containerPort: 80, host: "web.example.com")])
            #expect(result.variables.map(\.name) == ["REGISTRY", "TAG", "HTTP_PORT", "USER_NAME", "MODE", "PASSTHROUGH", "REPLICAS", "DOMAIN"])
            #expect(result.variables.map(\.line) == [3, 3, 5, 7, 9, 10, 12, 14])
            let tag = try #require(result.variables.first { $0.name == "TAG" })
            #expect(tag.isRequired && tag.requiredMessage == "TAG must be set to the release")
            #expect(result.variables.first { $0.name == "REGISTRY" }?.defaultValue == "docker.io")
            #expect(result.variables.first { $0.name == "PASSTHROUGH" }?.kind == .passthrough)
            #expect(result.missingVariables.isEmpty)
        },
        .valid("interpolation-missing-plain.yml", warnings: [
            .warning(3, "services.web.image", "variable NGINX_VERSION is not set"),
            .warning(5, "services.web.environment[0]", "variable API_KEY is not set"),
        ]) { spec, result in
            let web = svc(spec, "web")
            #expect(web.image == "nginx:", "substituted empty, as docker-compose does")
            #expect(web.environment == [EnvironmentVariable(name: "API_KEY", value: ""), EnvironmentVariable(name: "LEVEL", value: "info")])
            #expect(result.missingVariables == ["NGINX_VERSION", "API_KEY"])
        },
        .valid("environment-forms.yml", warnings: [
            .warning(14, "services.worker.environment[8]", "affinity rules are not supported"),
            .warning(15, "services.worker.environment[9]", "soft constraints are not supported"),
        ]) { spec, _ in
            let worker = svc(spec, "worker")
            #expect(worker.environment == [
                EnvironmentVariable(name: "A", value: "1"),
                EnvironmentVariable(name: "B", value: ""),
                EnvironmentVariable(name: "C", value: nil),
                EnvironmentVariable(name: "D", value: "x=y"),
            ])
            #expect(worker.placement.constraints == [
                PlacementConstraint(attribute: .nodeName, op: .equal, value: .exact("node-1"), source: "constraint:node==node-1"),
                PlacementConstraint(attribute: .nodeLabel("region"), op: .notEqual, value: .pattern("us-.*"), source: "constraint:region!=/us-.*/"),
                PlacementConstraint(attribute: .nodeLabel("storage"), op: .equal, value: .pattern("ssd.*"), source: "constraint:storage==ssd*"),
                PlacementConstraint(attribute: .nodeLabel("az"), op: .equal, value: .exact("3"), source: "availability:az==3"),
            ])
            let api = svc(spec, "api")
            #expect(api.environment == [
                EnvironmentVariable(name: "INT", value: "42"),
                EnvironmentVariable(name: "FLOAT", value: "1.5"),
                EnvironmentVariable(name: "BOOL", value: "true"),
                EnvironmentVariable(name: "YES_WORD", value: "yes"),
                EnvironmentVariable(name: "NULLED", value: nil),
                EnvironmentVariable(name: "QUOTED", value: "007"),
            ])
            #expect(api.placement.constraints.map(\.attribute) == [.nodeLabel("zone")])
        },
        .valid("restart-forms.yml", warnings: [
            .warning(24, "services.f.deploy.restart_policy.delay", "'delay' is not modelled"),
            .warning(25, "services.f.deploy.restart_policy.window", "'window' is not modelled"),
        ]) { spec, _ in
            let policies = spec.services.map(\.restart)
            #expect(policies == [.no, .always, .onFailure(maximumRetries: nil), .onFailure(maximumRetries: 5), .unlessStopped,
                                 .onFailure(maximumRetries: 3), .no, .no])
        },
        .valid("deploy-full.yml") { spec, _ in
            let api = svc(spec, "api")
            #expect(api.mode == .replicated)
            #expect(api.replicas == 6)
            #expect(api.resources == ResourceRequirements(
                limits: Resources(cpus: 1.5, memoryBytes: 1_610_612_736),
                reservations: Resources(cpus: 0.25, memoryBytes: 512 * 1_048_576)))
            #expect(api.placement.constraints.map(\.attribute) == [.nodeLabel("az"), .nodeName, .nodeID, .nodeLabel("disk")])
            #expect(api.placement.constraints.map(\.op) == [.equal, .notEqual, .equal, .equal])
            #expect(api.placement.constraints.map(\.value) == [.exact("2"), .exact("build-box"), .exact("4ke0h2g9kd"), .exact("ssd")])
            #expect(api.placement.constraints[0].source == "node.labels.az == 2")
            #expect(api.placement.spreadOver == ["az"])
            #expect(api.placement.maxPerNode == 2)
            #expect(api.updateConfig == UpdateConfig(parallelism: 2, delaySeconds: 10, order: .startFirst, failureAction: .rollback, maxFailureRatio: 0.2, monitorSeconds: 90))
            #expect(api.rollbackConfig == UpdateConfig(parallelism: 0, delaySeconds: 0.5, failureAction: .continue))
            #expect(api.labels == ["com.acme.team": "payments"])
        },
        .valid("deploy-global.yml") { spec, _ in
            #expect(svc(spec, "node-exporter").mode == .global)
            #expect(svc(spec, "log-agent").mode == .global)
            #expect(svc(spec, "log-agent").labels["aliyun.global"] == "true")
        },
        .valid("healthcheck-forms.yml", warnings: [
            .warning(14, "services.cmd.healthcheck.start_interval", "'start_interval' is not supported"),
        ]) { spec, _ in
            #expect(svc(spec, "shell").healthcheck == HealthCheck(test: ["CMD-SHELL", "wget -q -O- http://localhost/ || exit 1"]))
            #expect(svc(spec, "cmd").healthcheck == HealthCheck(test: ["CMD", "curl", "-f", "http://localhost"], intervalSeconds: 90, timeoutSeconds: 10, retries: 3, startPeriodSeconds: 40))
            #expect(svc(spec, "none").healthcheck == nil)
            #expect(svc(spec, "disabled").healthcheck == nil)
        },
        .valid("command-forms.yml") { spec, _ in
            #expect(svc(spec, "quoted").command == ["sh", "-c", "echo \"hello world\" && sleep 10"])
            #expect(svc(spec, "escaped").command == ["echo", "one word", "two \"words\""])
            #expect(svc(spec, "listed").entrypoint == ["/docker-entrypoint.sh"])
            #expect(svc(spec, "listed").command == ["--config", "/etc/app/config.yml"])
            #expect(svc(spec, "cleared").entrypoint == [], "an empty entrypoint clears the image's")
            #expect(svc(spec, "defaulted").command == nil)
        },
        .valid("extensions-caas-prefix.yml") { spec, _ in
            let shop = svc(spec, "shop")
            #expect(shop.replicas == 4)
            #expect(shop.routes == [
                Route(containerPort: 8080, host: "shop.example.com"),
                Route(containerPort: 8080, host: "www.shop.example.com", scheme: "https", path: "/store"),
                Route(containerPort: 9090, host: "admin.shop.internal"),
            ])
            #expect(shop.probe == Probe(check: .tcp(port: 8080), initialDelaySeconds: 10, timeoutSeconds: 3))
            #expect(shop.autoScaling == AutoScalingPolicy(maxCPU: 80, minCPU: 20, step: 1, minInstances: 2, maxInstances: 12))
            #expect(shop.logStores == [LogStore(name: "access", source: "/var/log/nginx/access.log"), LogStore(name: "app", source: "stdout")])
            #expect(shop.dependsOn.map(\.service) == ["cache", "queue"])
            #expect(shop.labels["caas.scale"] == "4")
            #expect(svc(spec, "cache").probe?.check == .command(["redis-cli", "ping"]))
            #expect(svc(spec, "queue").probe?.check == .http(port: 15672, path: "/api/healthchecks/node"))
        },
        .valid("anchors-merge.yml") { spec, _ in
            let one = svc(spec, "one"), two = svc(spec, "two")
            #expect(one.image == "acme/base:1" && two.image == "acme/base:1")
            #expect(one.restart == .always)
            #expect(two.restart == .onFailure(maximumRetries: nil), "an explicit key overrides the merged one")
            #expect(one.environment == [EnvironmentVariable(name: "TZ", value: "UTC")])
            #expect(two.labels == ["com.acme.stack": "demo"])
        },
        .valid("v2-resources.yml", warnings: [
            .warning(8, "services.app.cpu_shares", "cpu_shares is not supported"),
            .warning(9, "services.app.memswap_limit", "'memswap_limit' is not supported"),
        ]) { spec, _ in
            let app = svc(spec, "app")
            #expect(app.resources == ResourceRequirements(limits: Resources(cpus: 0.5, memoryBytes: 512 << 20), reservations: Resources(memoryBytes: 256 << 20)))
        },
        .valid("network-aliases.yml", warnings: [
            .warning(4, "services.db.networks", "'networks' names no separate network (only its 'aliases' are used)"),
            .warning(12, "services.web.networks", "'networks' names no separate network"),
            .warning(15, "services.cache.networks", "'networks' names no separate network"),
            .warning(17, "networks", "top-level 'networks' ignored"),
        ]) { spec, _ in
            #expect(svc(spec, "db").networkAliases == ["database", "db.internal"])
            #expect(svc(spec, "web").networkAliases == nil && svc(spec, "cache").networkAliases == nil)
        },
        .valid("depends-labels.yml", warnings: [
            .warning(5, "services.web.depends_on", "'depends_on' orders nothing"),
        ]) { spec, _ in
            #expect(svc(spec, "web").dependsOn == [ServiceDependency(service: "api"), ServiceDependency(service: "worker")])
        },
        .valid("unknown-keys-warn.yml", warnings: [
            .warning(5, "services.web.container_name", "'container_name' ignored"),
            .warning(6, "services.web.networks", "'networks' names no separate network"),
            .warning(8, "services.web.logging", "'logging' is not supported"),
            .warning(10, "services.web.imagee", "unknown key 'imagee'"),
            .warning(11, "services.web.env_file", "env_file is not supported"),
            .warning(13, "networks", "top-level 'networks' ignored"),
            .warning(15, "frobnicate", "unknown key 'frobnicate'"),
        ]) { spec, _ in
            #expect(svc(spec, "web").image == "nginx")
        },
        .valid("external-service-link.yml", warnings: [
            .warning(5, "services.app.links", "'links' resolve on clusters with node_subnets networking only"),
            .warning(8, "services.app.depends_on", "'depends_on' orders nothing"),
        ]) { spec, _ in
            #expect(spec.services.map(\.name) == ["app"])
            #expect(spec.externalServices == [
                ExternalServiceSpec(name: "cache", host: "r-abc.redis.rds.aliyuncs.com", ports: [6379]),
                ExternalServiceSpec(name: "search", host: "10.0.3.17", ports: [9200, 9300]),
            ])
            let app = svc(spec, "app")
            #expect(app.links == [ServiceLink(target: "cache", alias: "redis"), ServiceLink(target: "search")])
            #expect(app.dependsOn == [ServiceDependency(service: "cache")])
        },
        .valid("monitoring-stack.yml", warnings: [
            .warning(11, "services.prometheus.expose", "'expose' restricts nothing"),
            .warning(19, "services.grafana.depends_on", "'depends_on' orders nothing"),
        ]) { spec, _ in
            #expect(svc(spec, "prometheus").expose == [PortRange(9090)])
            #expect(svc(spec, "prometheus").volumes.last == VolumeMount(kind: .volume, source: "prom", target: "/prometheus"))
            #expect(svc(spec, "sidecar").networkMode == "service:grafana")
            #expect(spec.volumes == [VolumeSpec(name: "prom")])
        },
    ]

    static let invalid: [CorpusCase] = [
        .invalid("invalid-network-alias.yml", [
            .warning(4, "services.db.networks", "'networks' names no separate network"),
            .error(7, "services.db.networks.back.aliases[0]", "'-database' is not a host name"),
            .warning(9, "networks", "top-level 'networks' ignored"),
        ]),
        .invalid("invalid-cycle.yml", [
            .warning(4, "services.web.depends_on", "'depends_on' orders nothing"),
            .error(5, "services.web.depends_on[0]", "dependency cycle: web -> db -> web"),
            .warning(8, "services.db.depends_on", "'depends_on' orders nothing"),
        ]),
        .invalid("invalid-cycle-links.yml", [
            .warning(5, "services.a.links", "'links' resolve on clusters with node_subnets networking only"),
            .error(6, "services.a.links[0]", "dependency cycle: a -> b -> c -> a"),
            .warning(9, "services.b.links", "'links' resolve on clusters with node_subnets networking only"),
            .warning(17, "services.d.depends_on", "'depends_on' orders nothing"),
            .error(18, "services.d.depends_on.d", "dependency cycle: d -> d"),
        ]),
        .invalid("invalid-undeclared-volume.yml", [
            .error(6, "services.db.volumes[0]", "volume 'pgdata' is not declared in the top-level 'volumes'"),
            .error(7, "services.db.volumes[1]", "volume 'backups' is not declared"),
        ]),
        .invalid("invalid-ports.yml", [
            .error(5, "services.app.ports[0]", "the published range has 11 ports but the container range has 2"),
            .error(6, "services.app.ports[1]", "published port 70000 is out of range"),
            .error(7, "services.app.ports[2]", "container port 0 is out of range"),
            .error(8, "services.app.ports[3]", "unknown protocol 'icmp'"),
            .error(9, "services.app.ports[4]", "'a:b:c:d' is not a port mapping"),
            .error(10, "services.app.ports[5]", "'300.1.1.1' is not an IP address"),
            .error(11, "services.app.ports[6]", "the range 90-80 ends before it starts"),
            .error(12, "services.app.ports[7]", "the published range has 2 ports but the target range has 1"),
            .error(14, "services.app.ports[8]", "needs 'target'"),
            .warning(15, "services.app.expose", "'expose' restricts nothing"),
            .error(16, "services.app.expose[0]", "'abc' is not a valid exposed port"),
        ]),
        .invalid("invalid-unknown-dependency.yml", [
            .warning(5, "services.web.depends_on", "'depends_on' orders nothing"),
            .error(6, "services.web.depends_on.api", "depends on unknown service 'api'"),
            .error(9, "services.web.depends_on.cache.condition", "unknown dependency condition 'service_ready'"),
            .warning(10, "services.web.links", "'links' resolve on clusters with node_subnets networking only"),
            .error(11, "services.web.links[0]", "links to unknown service 'databse'"),
            .error(12, "services.web.network_mode", "shares the network of unknown service 'proxy'"),
        ]),
        .invalid("invalid-missing-required-variable.yml", [
            .error(3, "services.web.image", "required variable TAG is not set: set TAG to the release tag"),
            .error(5, "services.web.environment.DB_PASSWORD", "required variable DB_PASSWORD is not set"),
        ]),
        .invalid("invalid-type-errors.yml", [
            .error(3, "services.web.image", "expected an image reference, found a list"),
            .error(4, "services.web.ports", "expected a list of ports, found a scalar"),
            .error(5, "services.web.environment", "expected a mapping or a list of KEY=VALUE strings"),
            .error(8, "services.web.labels[1]", "expected a string, found a list"),
            .error(10, "services.web.deploy.replicas", "expected a replica count, found 'abc'"),
            .error(13, "services.web.deploy.resources.limits.memory", "expected a byte size"),
            .error(14, "services.web.restart", "unknown restart policy 'sometimes'"),
            .error(15, "services.web.healthcheck", "expected a mapping, found a scalar"),
            .error(16, "services.api", "expected a service definition (a mapping), found a scalar"),
        ]),
        .invalid("invalid-alias-bomb.yml", [
            .error(1, "x-f[1][7][8][6][5][8]", "expands to more than 200000 YAML nodes"),
        ]),
        .invalid("invalid-deep-nesting.yml", [
            .error(4, "", "nests deeper than 64 levels"),
        ]),
        .invalid("invalid-build-only.yml", [
            .error(3, "services.web.build", "caas deploys images, not build contexts"),
            .error(7, "services.worker", "has neither 'image' nor 'build'"),
        ]),
        .invalid("invalid-service-names.yml", [
            .error(2, "services.Web", "must be lowercase"),
            .error(4, "services.my_app", "cannot become a DNS label"),
            .error(6, "services[\"api.v2\"]", "cannot become a DNS label"),
            .error(8, "services.-edge", "must start and end with a letter or digit"),
        ]),
        .invalid("invalid-extension-labels.yml", [
            .error(5, "services.web.labels[\"aliyun.scale\"]", "must be a replica count from 0 to 1000, found 'abc'"),
            .error(6, "services.web.labels[\"aliyun.probe.url\"]", "must name the host 'container'"),
            .error(7, "services.web.labels[\"aliyun.routing.port_http\"]", "'http' is not a container port"),
            .error(8, "services.web.labels[\"aliyun.routing.port_80\"]", "unsupported scheme 'ftp'"),
            .error(9, "services.web.labels[\"aliyun.log_store_app\"]", "must be 'stdout' or an absolute path"),
            .error(10, "services.web.labels[\"aliyun.auto_scaling.max_cpu\"]", "must be a percentage"),
            .error(14, "services.api.labels[\"aliyun.probe.url\"]", "a tcp probe needs a port"),
            .error(15, "services.api.labels[\"aliyun.probe.timeout_seconds\"]", "must be a number of seconds"),
            .error(16, "services.api.labels[\"aliyun.global\"]", "must be true or false"),
        ]),
        .invalid("invalid-yaml-syntax.yml", [
            .error(6, "", "invalid YAML: did not find expected key"),
        ]),
        .invalid("invalid-interpolation-syntax.yml", [
            .error(3, "services.web.image", "unterminated '${TAG'"),
            .error(4, "services.web.command", "invalid interpolation: '$1'"),
        ]),
        .invalid("invalid-restart.yml", [
            .error(5, "services.a.restart", "unknown restart policy 'sometimes'"),
            .error(8, "services.b.restart", "unknown restart policy 'on-failure:-1'"),
            .error(13, "services.c.deploy.restart_policy.condition", "unknown restart condition 'whenever'"),
        ]),
        .invalid("invalid-constraints.yml", [
            .error(6, "services.a.environment[0]", "'/([a-z/' is not a valid regular expression"),
            .error(7, "services.a.environment[1]", "is not a constraint"),
            .error(11, "services.a.deploy.placement.constraints[0]", "'node.role' is not supported"),
            .error(12, "services.a.deploy.placement.constraints[1]", "'node.labels.az = 2' is not a constraint"),
            .error(13, "services.a.deploy.placement.constraints[2]", "unknown constraint attribute 'node.colour'"),
            .error(15, "services.a.deploy.placement.preferences[0].spread", "cannot spread over 'node.hostname'"),
        ]),
        .invalid("invalid-conflicting-scale.yml", [
            .error(7, "services.web.labels[\"aliyun.scale\"]", "the scale label (3) contradicts scale (2) at line 5"),
        ]),
        .invalid("invalid-version-1-key.yml", [
            .error(1, "version", "compose version 1 has no 'version' key"),
        ]),
        .invalid("invalid-external-service.yml", [
            .error(5, "services.db.external", "external service 'db' needs 'host'"),
            .error(9, "services.cache.external.host", "'not a host' is not a host name or IP address"),
        ]),
        .invalid("invalid-alias-key.yml", [
            .error(6, "", "a YAML alias cannot be used as a mapping key"),
        ]),
        .invalid("invalid-no-services.yml", [
            .error(1, "", "the compose file has no 'services'"),
        ]),
        .invalid("invalid-deploy-values.yml", [
            .error(6, "services.api.deploy.mode", "deploy mode 'replicated-job' is not supported"),
            .error(8, "services.api.deploy.resources", "the memory reservation (1073741824 bytes) exceeds the memory limit (268435456 bytes)"),
            .error(9, "services.api.deploy.resources.limits.cpus", "a number of CPUs must be more than 0"),
            .error(14, "services.api.deploy.update_config.order", "unknown update order 'sideways'"),
            .error(15, "services.api.deploy.update_config.delay", "expected a duration"),
            .error(16, "services.api.deploy.update_config.max_failure_ratio", "2 is out of range (0…1)"),
            .error(18, "services.api.deploy.rollback_config.failure_action", "unknown failure action 'rollback' (expected pause or continue)"),
            .error(19, "services.api.stop_grace_period", "expected a duration"),
        ]),
        .invalid("invalid-out-of-range-numbers.yml", [
            .error(5, "services.api.deploy.replicas", "1001 is out of range (0…1000)"),
            .error(8, "services.api.deploy.resources.reservations.cpus", "1e17 is out of range (0…4096)"),
            .error(9, "services.api.deploy.resources.reservations.memory", "'2048t' is out of range (at most 1024t)"),
            .error(11, "services.api.deploy.resources.limits.cpus", "5000 is out of range (0…4096)"),
            .error(13, "services.api.deploy.update_config.delay", "'100000000000000000000h' is out of range (at most 168h)"),
            .error(14, "services.api.deploy.update_config.monitor", "'200h' is out of range (at most 168h)"),
            .error(15, "services.api.stop_grace_period", "'8760h' is out of range"),
            .error(18, "services.api.healthcheck.interval", "'99999999h' is out of range"),
            .error(20, "services.api.labels[\"caas.scale\"]", "must be a replica count from 0 to 1000, found '100000'"),
            .error(22, "services.api.labels[\"caas.auto_scaling.step\"]", "must be an integer from 1 to 1000"),
        ]),
        .invalid("invalid-external-volume-driver.yml", [
            .error(9, "volumes.data.driver", "an external volume already exists: it cannot specify 'driver'"),
            .error(10, "volumes[\"bad/name\"]", "'bad/name' is not a volume name"),
        ]),
        .invalid("invalid-healthcheck.yml", [
            .error(5, "services.a.healthcheck.test", "starts with CMD, CMD-SHELL or NONE"),
            .error(9, "services.b.healthcheck.test", "names no command after CMD"),
            .error(10, "services.b.healthcheck.interval", "expected a duration"),
            .warning(14, "services.c.healthcheck", "a healthcheck without 'test'"),
        ]),
    ]
}
