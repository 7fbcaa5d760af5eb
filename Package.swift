// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "rota",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Rota", targets: ["Rota"]),
        .library(name: "RotaObservability", targets: ["RotaObservability"]),
        .executable(name: "rota", targets: ["rota"]),
        .executable(name: "rota-examples", targets: ["rota-examples"]),
        .executable(name: "rota-bench", targets: ["rota-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"]), .brew(["libpq"])]
        ),
        .target(
            name: "Rota",
            dependencies: [
                "CLibPQ",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // The worker's HTTP endpoints (/metrics through the Prometheus backend, /healthz,
        // /readyz) and the dashboard: what `rota` uses and a user's service may add.
        .target(
            name: "RotaObservability",
            dependencies: [
                "Rota",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // What the executables share: connection and worker options, the diagnostic
        // handlers, exit statuses.
        .target(
            name: "RotaCommandLine",
            dependencies: [
                "Rota",
                "RotaObservability",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The shipped command: admin and worker, nothing else.
        .executableTarget(
            name: "rota",
            dependencies: [
                "Rota",
                "RotaCommandLine",
                "RotaObservability",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The worker of the examples (the demo and docker-compose.yml run it).
        .executableTarget(
            name: "rota-examples",
            dependencies: [
                "Rota",
                "RotaCommandLine",
                "RotaExamples",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The benchmark behind `make bench`; it measures `rota worker` processes.
        .executableTarget(
            name: "rota-bench",
            dependencies: [
                "Rota",
                "RotaCommandLine",
                "RotaChildProcess",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "RotaExamples",
            dependencies: ["Rota", .product(name: "Logging", package: "swift-log")]
        ),
        // Child processes for rota-bench and the multi-process tests (not a product).
        .target(name: "RotaChildProcess"),
        // What the test targets share: the test database, waiting, in-process workers.
        .target(
            name: "RotaTestSupport",
            dependencies: [
                "Rota",
                "RotaChildProcess",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "RotaExamplesTests",
            dependencies: [
                "RotaExamples",
                "Rota",
                "RotaTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // README.md's Swift snippets, compiled as written (scripts/readme-snippets.py).
        .testTarget(
            name: "RotaReadmeTests",
            dependencies: [
                "Rota",
                "RotaTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The worker's endpoints, the dashboard and the alerts, with worker processes,
        // promtool, a Prometheus server and headless Chromium.
        .testTarget(
            name: "RotaObservabilityTests",
            dependencies: [
                "Rota",
                "RotaObservability",
                "RotaChildProcess",
                "RotaTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "RotaTests",
            dependencies: [
                "Rota",
                "RotaChildProcess",
                "RotaTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
