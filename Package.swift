// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "rota",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Rota", targets: ["Rota"]),
        .executable(name: "rota", targets: ["rota"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
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
            ]
        ),
        .executableTarget(
            name: "rota",
            dependencies: [
                "Rota",
                "RotaExamples",
                "RotaChildProcess",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "RotaExamples",
            dependencies: ["Rota", .product(name: "Logging", package: "swift-log")]
        ),
        // Child processes for `rota bench` and the multi-process tests (not a product).
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
