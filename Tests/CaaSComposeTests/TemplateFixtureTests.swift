import CaaSCompose
import CaaSModel
import Testing

/// The four templates from the talk the product grew from: each must be accepted as the talk describes.
@Suite struct TemplateFixtureTests {
    @Test func restserverIsComposeV1WithRoutedProbedScaledServerAndExternalLinkingClient() throws {
        let (spec, result) = try parseValid(try fixtureText("restserver.yml"))
        // The only warning: the client's external link names nothing inside its container yet.
        #expect(result.diagnostics.map(\.description) == ["13:3 client.external_links: 'external_links' are checked but not delivered: they name containers outside the application, which caas does not resolve (an external: service or a routed address does)"], "\(result.diagnostics)")
        #expect(spec.services.map(\.name) == ["server", "client"])
        let server = try service(spec, "server")
        #expect(server.image == "nginx")
        #expect(server.replicas == 2)
        #expect(server.routes == [Route(containerPort: 80, host: "restserver.local")])
        let probe = try #require(server.probe)
        #expect(probe.check == .http(port: 80, path: "/"))
        #expect(probe.initialDelaySeconds == 2)
        #expect(probe.timeoutSeconds == 2)
        #expect(server.labels["aliyun.scale"] == "2", "extension labels stay visible as written")
        let client = try service(spec, "client")
        #expect(client.image == "test_app")
        #expect(client.externalLinks == [ServiceLink(target: "restserver.local")])
    }

    @Test func wordpressCloudTurnsAvailabilityIntoPlacementAndDbIntoExternalService() throws {
        let (spec, result) = try parseValid(try fixtureText("wordpress-cloud.yml"))
        // The only warning: the link to db is not a host name inside the container yet.
        #expect(result.diagnostics.map(\.description) == ["8:5 services.wordpress.links: 'links' resolve on clusters with node_subnets networking only: there the nodes' name servers answer a linked service's name and alias; on host networking they are not host names inside the container"], "\(result.diagnostics)")
        let wordpress = try service(spec, "wordpress")
        #expect(wordpress.image == "wordpress:4.5")
        #expect(wordpress.restart == .always)
        #expect(wordpress.replicas == 3)
        #expect(wordpress.links == [ServiceLink(target: "db", alias: "mysql")])
        #expect(wordpress.environment.map(\.name) == ["WORDPRESS_DB_USER", "WORDPRESS_DB_PASSWORD", "WORDPRESS_DB_NAME"])
        #expect(!wordpress.environment.contains { $0.name.contains("availability") })
        #expect(wordpress.placement.constraints == [
            PlacementConstraint(attribute: .nodeLabel("az"), op: .equal, value: .exact("2"), source: "availability:az==2"),
        ])
        #expect(wordpress.volumes == [VolumeMount(kind: .volume, source: "wp_upload", target: "/var/www/html/wp-content/uploads")])
        #expect(wordpress.probe?.check == .http(port: 80, path: "/"))
        #expect(wordpress.routes == [Route(containerPort: 80, host: "wordpress", scheme: "http")])
        #expect(wordpress.logStores == [LogStore(name: "wordpress", source: "stdout")])
        #expect(spec.services.count == 1)
        #expect(spec.externalServices == [ExternalServiceSpec(name: "db", host: "rdsxxxxxx.mysql.rds.aliyuncs.com", ports: [3306])])
        #expect(spec.volumes == [VolumeSpec(name: "wp_upload", driver: "ossfs", driverOptions: ["bucket": "acs-sample-wordpress"])])
    }

    @Test func wordpressMysqlHasPortsLinksRestartAndNamedVolume() throws {
        let (spec, result) = try parseValid(try fixtureText("wordpress-mysql.yml"))
        // The only warning: the link to db is not a host name inside the container yet.
        #expect(result.diagnostics.map(\.description) == ["9:5 services.wordpress.links: 'links' resolve on clusters with node_subnets networking only: there the nodes' name servers answer a linked service's name and alias; on host networking they are not host names inside the container"], "\(result.diagnostics)")
        let wordpress = try service(spec, "wordpress")
        #expect(wordpress.ports == [PortMapping(target: PortRange(80))])
        #expect(wordpress.links == [ServiceLink(target: "db", alias: "mysql")])
        #expect(wordpress.restart == .always)
        #expect(wordpress.networkMode == "bridge")
        let db = try service(spec, "db")
        #expect(db.image == "mysql:5.7")
        #expect(db.environment == [EnvironmentVariable(name: "MYSQL_ROOT_PASSWORD", value: "password")])
        #expect(db.restart == .always)
        #expect(db.volumes == [VolumeMount(kind: .volume, source: "data", target: "/var/lib/mysql")])
        #expect(spec.volumes == [VolumeSpec(name: "data", driver: "local")])
    }

    @Test func autoscalingDeclaresReplicasAndCPUPolicy() throws {
        let (spec, result) = try parseValid(try fixtureText("autoscaling.yml"))
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics)")
        let web = try service(spec, "web")
        #expect(web.replicas == 2)
        #expect(web.ports == [PortMapping(target: PortRange(80))])
        let policy = try #require(web.autoScaling)
        #expect(policy.maxCPU == 70)
        #expect(policy.step == 2)
        #expect(policy.minCPU == nil)
    }
}
