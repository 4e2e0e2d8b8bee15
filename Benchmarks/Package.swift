// swift-tools-version:6.0
// Benchmarks of caas, a package of its own so benchmark-only dependencies (Hummingbird, SwiftNIO)
// never reach the product. Run in release:
//   cd Benchmarks && swift run -c release PlannerBenchmark
//   cd Benchmarks && swift run -c release ScheduleBenchmark   (API → workers → PostgreSQL → pushed)
//   scripts/bench-http.sh            (our server vs Hummingbird 2 under wrk)
//   cd Benchmarks && swift run -c release DNSBenchmark      (the nodes' name server on loopback)
import PackageDescription

let package = Package(
    name: "caas-benchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "caas", path: ".."),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
    ],
    targets: [
        .executableTarget(
            name: "PlannerBenchmark",
            dependencies: [
                .product(name: "CaaSPlanner", package: "caas"),
                .product(name: "CaaSModel", package: "caas"),
            ]
        ),
        .executableTarget(
            name: "ScheduleBenchmark",
            dependencies: [
                .product(name: "CaaSServer", package: "caas"),
                .product(name: "CaaSStore", package: "caas"),
                .product(name: "CaaSPostgres", package: "caas"),
                .product(name: "CaaSModel", package: "caas"),
            ]
        ),
        .executableTarget(
            name: "DNSBenchmark",
            dependencies: [.product(name: "CaaSDNS", package: "caas")]
        ),
        .target(name: "BenchmarkPayload"),
        .executableTarget(
            name: "CaaSPeer",
            dependencies: ["BenchmarkPayload", .product(name: "CaaSHTTP", package: "caas")]
        ),
        .executableTarget(
            name: "HummingbirdPeer",
            dependencies: ["BenchmarkPayload", .product(name: "Hummingbird", package: "hummingbird")]
        ),
    ]
)
