import Hummingbird
import Logging
import NIOCore
import Rota
import ServiceLifecycle

/// The read-only web dashboard (`rota dashboard`): server-rendered pages that refresh
/// themselves, with the active alerts on top of each: overview, queues, schedules,
/// failures (filterable by queue, task and executor), executors, and one page per task.
/// It also serves `rota.metrics()` at `/metrics` (OpenMetrics) for a Prometheus scrape of
/// the database's metrics. Connect it with a role that may only read.
public struct RotaDashboard: Service {
    /// The address to bind: 127.0.0.1 unless told otherwise.
    public let host: String
    /// The port; 0 picks a free one (reported to `onListening`).
    public let port: Int
    let pages: DashboardPages
    let client: RotaClient
    let logger: Logger
    let onListening: @Sendable (Int) async -> Void

    /// A dashboard reading through `client`, whose pages refresh every `refreshSeconds`.
    public init(host: String = "127.0.0.1", port: Int, client: RotaClient, refreshSeconds: Int = 10,
                logger: Logger, onListening: @escaping @Sendable (_ port: Int) async -> Void = { _ in }) {
        self.host = host
        self.port = port
        self.client = client
        self.pages = DashboardPages(client: client, refreshSeconds: refreshSeconds)
        self.logger = logger
        self.onListening = onListening
    }

    /// Serves until graceful shutdown or cancellation.
    public func run() async throws {
        let router = Router()
        let pages = self.pages
        let client = self.client
        let logger = self.logger
        router.get("/") { _, _ in await Self.page(logger) { try await pages.overview() } }
        router.get("queues") { _, _ in await Self.page(logger) { try await pages.queues() } }
        router.get("schedules") { _, _ in await Self.page(logger) { try await pages.schedules() } }
        router.get("executors") { _, _ in await Self.page(logger) { try await pages.executors() } }
        router.get("failures") { request, _ in
            let parameters = request.uri.queryParameters
            func filter(_ name: String) -> String? { parameters.get(name).flatMap { $0.isEmpty ? nil : $0 } }
            let queue = filter("queue"), task = filter("task"), executor = filter("executor")
            return await Self.page(logger) { try await pages.failures(queue: queue, task: task, executor: executor) }
        }
        router.get("tasks/:id") { request, context in
            guard let id = context.parameters.get("id", as: Int64.self) else {
                return textResponse(.badRequest, "text/plain", "the task id must be a number\n")
            }
            return await Self.page(logger) { try await pages.task(id: id) }
        }
        router.get("assets/style.css") { _, _ in textResponse(.ok, "text/css; charset=utf-8", DashboardAssets.css) }
        router.get("metrics") { _, _ in
            do {
                return textResponse(.ok, "application/openmetrics-text; version=1.0.0; charset=utf-8",
                                     try await client.metrics())
            } catch {
                return textResponse(.serviceUnavailable, "text/plain", "the database cannot be read\n")
            }
        }
        router.get("healthz") { _, _ in textResponse(.ok, "text/plain", "ok\n") }
        try await serveHTTP(router, host: host, port: port, serverName: "rota-dashboard", logger: logger,
                            onListening: onListening)
    }

    /// A page's response: 404 when `render` finds nothing, 503 when the database cannot be read.
    static func page(_ logger: Logger, _ render: () async throws -> String?) async -> Response {
        do {
            guard let body = try await render() else {
                return textResponse(.notFound, "text/html; charset=utf-8", "<!doctype html><title>Not found</title><p>Not found.</p>")
            }
            return textResponse(.ok, "text/html; charset=utf-8", body)
        } catch {
            logger.warning("dashboard page failed", metadata: ["error": "\(error)"])
            return textResponse(.serviceUnavailable, "text/html; charset=utf-8",
                            "<!doctype html><title>Rota</title><p>The database cannot be read: " + HTML.escape("\(error)") + "</p>")
        }
    }

}
