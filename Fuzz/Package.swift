// swift-tools-version:6.0
// Coverage-guided fuzz targets of caas (libFuzzer), a package of its own: each target is an
// executable that hands its one-input function to libFuzzer's driver, so it links only with
// `-sanitize=fuzzer`. Run all for a bounded time with `scripts/fuzz.sh [seconds]` (make test
// runs it).
import PackageDescription

let package = Package(
    name: "caas-fuzz",
    dependencies: [.package(name: "caas", path: "..")],
    targets: [
        .target(name: "FuzzDriver"),
        .executableTarget(name: "FuzzRequestParser", dependencies: ["FuzzDriver", .product(name: "CaaSHTTP", package: "caas")]),
        .executableTarget(name: "FuzzResponseParser", dependencies: ["FuzzDriver", .product(name: "CaaSHTTP", package: "caas")]),
        .executableTarget(name: "FuzzCompose", dependencies: ["FuzzDriver", .product(name: "CaaSCompose", package: "caas")]),
    ]
)
