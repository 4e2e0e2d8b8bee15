// swift-tools-version:6.0
// Benchmarks of caas, a package of its own so benchmark-only dependencies never reach the product.
// Run in release: `cd Benchmarks && swift run -c release PlannerBenchmark`.
import PackageDescription

let package = Package(
    name: "caas-benchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "caas", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "PlannerBenchmark",
            dependencies: [
                .product(name: "CaaSPlanner", package: "caas"),
                .product(name: "CaaSModel", package: "caas"),
            ]
        ),
    ]
)
