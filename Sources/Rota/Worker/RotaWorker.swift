import Logging
import ServiceLifecycle

/// A Rota executor as a `ServiceLifecycle` service: run one per process.
///
/// ```swift
/// var handlers = RotaHandlers()
/// handlers.register("resize") { (job: ResizeJob, context) in try await resize(job) }
/// let worker = RotaWorker(configuration: .init(connectionString: url, queues: ["images": 8]),
///                         handlers: handlers, logger: logger)
/// let group = ServiceGroup(configuration: .init(services: [worker],
///                                               gracefulShutdownSignals: [.sigterm, .sigint],
///                                               logger: logger))
/// try await group.run()
/// ```
///
/// While running it claims tasks of its queues as capacity frees up (woken by
/// `LISTEN rota_enqueue`, with a poll fallback and a timer for delayed tasks), runs their
/// handlers, writes outcomes in batches, renews leases with heartbeats (cancelling handlers
/// whose task was cancelled or whose lease was lost), recovers tasks of dead executors, and
/// fires due cron schedules.
///
/// On graceful shutdown (e.g. SIGTERM) it stops claiming, lets running handlers finish for
/// ``RotaWorkerConfiguration/shutdownGracePeriod``, cancels the rest, writes all outcomes and
/// releases unfinished tasks with `rota.stop_executor`; writing and releasing take what is
/// left of the grace period (at least half a second): a database that is away longer leaves
/// the tasks to the reaper, with a warning. Cancellation of `run()` is the hard stop:
/// handlers are cancelled at once and their leases expire or are released.
///
/// At start it checks that every configured queue exists: `run()` throws
/// ``RotaError/Code/unknownQueue`` naming the missing ones, and at once a connection error
/// that waiting does not fix (``RotaError/isPermanentConnectionFailure``); while the
/// database cannot be reached yet it retries, logging a warning at once and then every 30 s.
/// A queue dropped while the worker runs is reported once and looked for again with
/// backoff; the other queues are served meanwhile.
public struct RotaWorker: Service, CustomStringConvertible {
    /// How this worker runs.
    public let configuration: RotaWorkerConfiguration
    /// The task handlers.
    public let handlers: RotaHandlers
    /// The worker's logger.
    public let logger: Logger
    /// The client whose ``RotaClient/start(queue:task:payload:options:)`` runs tasks on this
    /// worker while it runs.
    public let client: RotaClient?
    /// Connected and registered, for a readiness probe (`RotaObservability` serves it at `/readyz`).
    public let health = RotaWorkerHealth()

    /// A worker; nothing happens until ``run()``.
    /// - Parameter client: while the worker runs, `client.start(queue:task:payload:)` starts
    ///   tasks directly on it (request-scoped workflows); one running worker per client.
    public init(configuration: RotaWorkerConfiguration, handlers: RotaHandlers,
                logger: Logger = Logger(label: "rota.worker"), client: RotaClient? = nil) {
        self.configuration = configuration
        self.handlers = handlers
        self.client = client
        var logger = logger
        logger[metadataKey: "executor"] = "\(configuration.executorID)"
        self.logger = logger
    }

    /// Names the executor and its queues (never the connection string, which may hold a password).
    public var description: String {
        "RotaWorker(executor: \(configuration.executorID), queues: \(configuration.queues.sorted { $0.key < $1.key }))"
    }

    /// The executor id this worker registers as.
    public var executorID: String { configuration.executorID }

    /// Runs until graceful shutdown completes or the task is cancelled.
    public func run() async throws {
        let runtime = WorkerRuntime(configuration: configuration, handlers: handlers, logger: logger, health: health,
                                    client: client)
        try await withGracefulShutdownHandler {
            try await runtime.run()
        } onGracefulShutdown: {
            runtime.beginShutdown()
        }
    }
}
