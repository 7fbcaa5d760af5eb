import ArgumentParser
import Foundation
import Logging
import Metrics
import Rota
import RotaObservability
import ServiceLifecycle

/// The options of a `worker` command (`rota worker`, `rota-examples worker`) and the run
/// of the worker they describe.
public struct WorkerOptions: ParsableArguments {
    @OptionGroup public var connection: ConnectionOptions
    @Option(help: "Comma-separated queues to work on.") public var queues: String
    @Option(help: "Most tasks this process runs at once, per queue.") public var concurrency: Int = 10
    @Option(help: "Executor id (default: $ROTA_EXECUTOR_ID, else host-pid-random).") public var executorId: String?
    @Option(help: "Poll interval in seconds (LISTEN wakes the worker sooner).") public var poll: Double = 1
    @Option(help: "Heartbeat interval in seconds (default: a third of the lease of the running tasks).")
    public var heartbeat: Double?
    @Option(help: "Reap interval in seconds (default: the heartbeat interval).") public var reap: Double?
    @Option(help: ArgumentHelp("While finished tasks past their queue's retention are due, rows deleted per second at least "
                               + "(default: 2000); 1.5 more per task this process finishes."))
    public var pruneRate: Int?
    @Option(help: "Graceful shutdown grace period in seconds.") public var grace: Double = 30
    @Option(help: "Handler timeout in seconds (default: none).") public var timeout: Double?
    @Option(help: "Most database connections the handlers' steps and transactions use at once.")
    public var workflowConnections: Int = 4
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") public var logLevel: String = "info"
    @Flag(help: "Install or upgrade the schema before starting (safe from every replica at once).")
    public var migrate = false
    @Option(help: "Serve /metrics, /healthz and /readyz on this port (default: no endpoints).")
    public var metricsPort: Int?
    @Option(help: "The address the endpoints of --metrics-port bind (0.0.0.0 for a scrape from outside a container).")
    public var metricsHost: String = "127.0.0.1"
    @Option(help: ArgumentHelp("Diagnostics: once the worker runs, start one task of this name directly on it "
                               + "(rota.start, on the first of --queues) and print its id and result.", visibility: .hidden))
    public var startTask: String?
    @Option(help: ArgumentHelp("The JSON payload of --start-task.", visibility: .hidden))
    public var startPayload: String = "{}"
    @Flag(help: ArgumentHelp("Diagnostics: with --start-task, start another task after each result until the worker stops.",
                             visibility: .hidden))
    public var startRepeat = false

    public init() {}

    public func validate() throws {
        if queueList.isEmpty { throw ValidationError("--queues needs at least one queue name") }
        if concurrency < 1 { throw ValidationError("--concurrency must be at least 1") }
        if workflowConnections < 1 { throw ValidationError("--workflow-connections must be at least 1") }
        if let pruneRate, pruneRate < 0 { throw ValidationError("--prune-rate must be at least 0 (got \(pruneRate))") }
        if startRepeat && startTask == nil { throw ValidationError("--start-repeat needs --start-task") }
        if Logger.Level(rawValue: logLevel) == nil { throw ValidationError("--log-level: unknown level \(logLevel)") }
        if let metricsPort, !(0...65535).contains(metricsPort) {
            throw ValidationError("--metrics-port must be between 0 and 65535 (got \(metricsPort))")
        }
    }

    /// The names given to `--queues`.
    public var queueList: [String] {
        queues.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// Runs a worker with `handlers` on the given queues until SIGTERM or SIGINT (graceful
    /// shutdown). `prepare` runs after the migration and may add handlers and queues.
    public func run(handlers: RotaHandlers,
                    prepare: (_ handlers: inout RotaHandlers, _ queues: inout [String: Int], _ logger: Logger) async throws -> Void
                        = { _, _, _ in }) async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "rota.worker")
        if migrate {
            // Replicas may start before the database does: wait for it (saying so), but fail
            // at once on what waiting does not fix (a wrong password, an unknown database).
            let client = RotaClient(connectionString: connection.connectionString, logger: logger, connectTimeout: .zero)
            do {
                _ = try await ConnectionRetry(logger: logger).run("migrate") { try await client.migrate() }
                await client.close()
            } catch {
                await client.close()
                throw error
            }
        }
        var handlers = handlers
        var queues = Dictionary(uniqueKeysWithValues: queueList.map { ($0, concurrency) })
        try await prepare(&handlers, &queues, logger)
        var configuration = RotaWorkerConfiguration(
            connectionString: connection.connectionString, queues: queues, executorID: executorId)
        configuration.pollInterval = .seconds(parsing: poll)
        configuration.heartbeatInterval = heartbeat.map(Duration.seconds(parsing:))
        configuration.reapInterval = reap.map(Duration.seconds(parsing:))
        if let pruneRate { configuration.pruneRate = pruneRate }
        configuration.shutdownGracePeriod = .seconds(parsing: grace)
        configuration.defaultTaskTimeout = timeout.map(Duration.seconds(parsing:))
        configuration.workflowConnections = workflowConnections
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        let client = startTask.map { _ in RotaClient(connectionString: connection.connectionString, logger: logger) }
        let worker = RotaWorker(configuration: configuration, handlers: handlers, logger: logger, client: client)
        services.append(.init(service: worker))
        if let client, let startTask, let queue = queueList.first {
            services.append(.init(service: DirectStartProbe(client: client, queue: queue, task: startTask,
                                                            payload: startPayload, repeating: startRepeat),
                                  successTerminationBehavior: .ignore))
        }
        if let metricsPort {
            let factory = RotaPrometheusMetricsFactory()
            MetricsSystem.bootstrap(factory)
            services.append(.init(service: RotaHealthServer(host: metricsHost, port: metricsPort, registry: factory.registry,
                                                            health: worker.health, logger: logger)))
        }
        let group = ServiceGroup(configuration: .init(
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }
}
