import CaaSCompose
import CaaSModel
import Testing

/// Top-level volumes as compose declares them: what reaches the spec, and names the engine accepts.
@Suite struct VolumeDeclarationTests {
    @Test func driverOptionsAndLabelsReachTheSpec() throws {
        let (spec, _) = try parseValid("""
        services:
          db:
            image: mysql
            volumes: ["data:/var/lib/mysql"]
        volumes:
          data:
            driver: ossfs
            driver_opts:
              bucket: blog-bucket
            labels:
              tier: db
        """)
        #expect(spec.volumes == [VolumeSpec(name: "data", driver: "ossfs", driverOptions: ["bucket": "blog-bucket"], labels: ["tier": "db"])])
    }

    @Test func aVolumeNameTheEngineCannotTakeIsAnErrorAtItsLine() {
        let result = ComposeParser.parse("""
        services:
          db:
            image: mysql
            volumes: ["data:/d", "shared:/s"]
        volumes:
          data:
            name: "../escape"
          shared:
            external:
              name: "a b"
        """)
        #expect(result.spec == nil)
        let errors = result.errors.map { "\($0.line ?? 0) \($0.path): \($0.message)" }
        #expect(errors.contains { $0.hasPrefix("7 volumes.data.name: '../escape' is not a volume name") }, "\(errors)")
        #expect(errors.contains { $0.hasPrefix("10 volumes.shared.external.name: 'a b' is not a volume name") }, "\(errors)")
    }
}
