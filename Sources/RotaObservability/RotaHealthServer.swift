import Hummingbird
import Logging
import NIOCore
import Prometheus
import Rota
import ServiceLifecycle

/// The HTTP endpoints of a worker process, as a `ServiceLifecycle` service to run next to
/// the ``Rota/RotaWorker`` in one `ServiceGroup`:
/// - `/metrics`: the registry's metrics in the Prometheus text format;
/// - `/healthz`: 200 while the process serves requests (liveness);
/// - `/readyz`: 200 when the worker is connected and registered, else 503 (readiness).
///
/// ```swift
/// let factory = RotaPrometheusMetricsFactory()
/// MetricsSystem.bootstrap(factory)
/// let worker = RotaWorker(configuration: configuration, handlers: handlers, logger: logger)
/// let endpoints = RotaHealthServer(port: 9464, registry: factory.registry, health: worker.health, logger: logger)
/// let group = ServiceGroup(configuration: .init(services: [worker, endpoints],
///                                               gracefulShutdownSignals: [.sigterm], logger: logger))
/// ```
public struct RotaHealthServer: Service {
    /// The address to bind: 127.0.0.1 unless told otherwise (0.0.0.0 for a scrape from outside a container).
    public let host: String
    /// The port; 0 picks a free one (reported to `onListening`).
    public let port: Int
    let registry: PrometheusCollectorRegistry
    let health: RotaWorkerHealth
    let logger: Logger
    let onListening: @Sendable (Int) async -> Void

    /// The endpoints of one worker.
    public init(host: String = "127.0.0.1", port: Int, registry: PrometheusCollectorRegistry,
                health: RotaWorkerHealth, logger: Logger,
                onListening: @escaping @Sendable (_ port: Int) async -> Void = { _ in }) {
        self.host = host
        self.port = port
        self.registry = registry
        self.health = health
        self.logger = logger
        self.onListening = onListening
    }

    /// Serves until graceful shutdown or cancellation.
    public func run() async throws {
        let router = Router()
        let registry = self.registry
        let health = self.health
        router.get("metrics") { _, _ -> Response in
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: buffer)))
        }
        router.get("healthz") { _, _ -> Response in
            textResponse(.ok, "text/plain", "ok\n")
        }
        router.get("readyz") { _, _ -> Response in
            let ready = health.isReady
            let text = ready ? "ready\n" : "not ready: connected=\(health.isConnected) registered=\(health.isRegistered)\n"
            return textResponse(ready ? .ok : .serviceUnavailable, "text/plain", text)
        }
        try await serveHTTP(router, host: host, port: port, serverName: "rota-worker", logger: logger,
                            onListening: onListening)
    }
}
