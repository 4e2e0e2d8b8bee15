// swift-tools-version:6.0
// caas: a multi-tenant Container-as-a-Service control plane.
// Dependencies point downward only (see README "Layout"). No third-party server framework here:
// the benchmark comparison peer lives in Benchmarks/, a package of its own.
import PackageDescription

let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")

let package = Package(
    name: "caas",
    platforms: [.macOS(.v14)],
    products: [
        // Libraries the Benchmarks and Fuzz packages build against.
        .library(name: "CaaSModel", targets: ["CaaSModel"]),
        .library(name: "CaaSPlanner", targets: ["CaaSPlanner"]),
        .library(name: "CaaSHTTP", targets: ["CaaSHTTP"]),
        .library(name: "CaaSCompose", targets: ["CaaSCompose"]),
        .library(name: "CaaSPostgres", targets: ["CaaSPostgres"]),
        .library(name: "CaaSStore", targets: ["CaaSStore"]),
        .library(name: "CaaSServer", targets: ["CaaSServer"]),
        .library(name: "CaaSClient", targets: ["CaaSClient"]),
        .library(name: "CaaSDNS", targets: ["CaaSDNS"]),
        .executable(name: "caas-server", targets: ["caas-server"]),
        .executable(name: "caasctl", targets: ["caasctl"]),
        .executable(name: "caas-agent", targets: ["caas-agent"]),
        .executable(name: "caas-dns", targets: ["caas-dns"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C headers enter only here.
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),

        // Infrastructure.
        .target(name: "CaaSHTTP", dependencies: ["COpenSSL", logging]),
        .target(name: "CaaSPostgres", dependencies: ["CLibPQ", logging]),
        .target(name: "CaaSCrypto", dependencies: ["COpenSSL"]),

        // Pure domain: values and decisions, no I/O.
        .target(name: "CaaSModel"),
        .target(name: "CaaSCompose", dependencies: ["CaaSModel", .product(name: "Yams", package: "Yams")]),
        .target(name: "CaaSPlanner", dependencies: ["CaaSModel"]),

        // Persistence: repositories, tenant scoping, events, idempotency, audit.
        .target(name: "CaaSStore", dependencies: ["CaaSPostgres", "CaaSModel", "CaaSPlanner", logging]),

        // The control plane: API routes, authentication, workers. Wiring only.
        .target(name: "CaaSServer", dependencies: ["CaaSHTTP", "CaaSPostgres", "CaaSStore", "CaaSCrypto", "CaaSModel", "CaaSCompose", "CaaSPlanner", logging]),

        // The cluster agent: engine client, executor, observation, probes.
        .target(name: "CaaSAgent", dependencies: ["CaaSHTTP", "CaaSModel", "CaaSCrypto", "CaaSDNS", logging]),
        .executableTarget(name: "caas-agent", dependencies: ["CaaSAgent", "CaaSDNS", .product(name: "ArgumentParser", package: "swift-argument-parser")]),

        // The nodes' name server: the C library only (no Foundation), linked fully static, so its
        // system container's image is this one file.
        .target(name: "CaaSDNS"),
        .executableTarget(name: "caas-dns", dependencies: ["CaaSDNS"], linkerSettings: [.unsafeFlags(["-static-executable"])]),

        // The typed client of the public API, and what caasctl shows of it (tables, problems,
        // progress, contexts).
        .target(name: "CaaSClient", dependencies: ["CaaSHTTP", "CaaSModel"]),

        // Executables: configuration and start-up only.
        .executableTarget(name: "caas-server", dependencies: ["CaaSServer", logging, .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "caasctl", dependencies: [
            "CaaSClient", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Tests.
        .target(name: "CaaSTestSupport", dependencies: ["CaaSPostgres", logging], path: "Tests/CaaSTestSupport"),
        .testTarget(name: "CaaSHTTPTests", dependencies: ["CaaSHTTP", "CaaSTestSupport"]),
        .testTarget(name: "CaaSPostgresTests", dependencies: ["CaaSPostgres", "CaaSTestSupport"]),
        .testTarget(name: "CaaSModelTests", dependencies: ["CaaSModel"]),
        .testTarget(name: "CaaSComposeTests", dependencies: ["CaaSCompose"], resources: [.copy("Fixtures")]),
        .testTarget(name: "CaaSPlannerTests", dependencies: ["CaaSPlanner"]),
        .target(name: "CaaSEngineSupport", dependencies: ["CaaSAgent", "CaaSTestSupport"], path: "Tests/CaaSEngineSupport"),
        .testTarget(name: "CaaSAgentTests", dependencies: ["CaaSAgent", "CaaSModel", "CaaSEngineSupport", "CaaSCrypto"]),
        .testTarget(name: "CaaSCryptoTests", dependencies: ["CaaSCrypto"]),
        .testTarget(name: "CaaSDNSTests", dependencies: ["CaaSDNS"]),
        .testTarget(name: "CaaSStoreTests", dependencies: ["CaaSStore", "CaaSTestSupport"]),
        .target(name: "CaaSWorkersTestSupport", dependencies: ["CaaSServer", "CaaSModel", "CaaSPlanner", "CaaSStore"],
                path: "Tests/CaaSWorkersTestSupport"),
        .testTarget(name: "CaaSServerTests", dependencies: ["CaaSServer", "CaaSTestSupport", "CaaSWorkersTestSupport", "CaaSAgent", "CaaSCrypto", .product(name: "Yams", package: "Yams")]),
        .testTarget(name: "CaaSClientTests", dependencies: ["CaaSClient", "CaaSHTTP"]),
        // Runs the built caasctl binary as a process against the control plane served over HTTP
        // on loopback, with a real PostgreSQL.
        .testTarget(name: "caasctlTests", dependencies: ["CaaSClient", "CaaSServer", "CaaSStore", "CaaSHTTP", "CaaSPostgres", "CaaSTestSupport", "CaaSWorkersTestSupport", logging]),
        // End to end: the control plane in-process, a joined agent, real dockerd engines, real PostgreSQL.
        .testTarget(name: "CaaSEndToEndTests", dependencies: ["CaaSServer", "CaaSAgent", "CaaSTestSupport", "CaaSEngineSupport", "CaaSCrypto"]),
    ]
)
