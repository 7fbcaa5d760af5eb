import Foundation
import Logging
import Synchronization

/// The state of one running ``RotaWorker``: its connections, running handlers and signals.
/// The loops that use it live in the `WorkerRuntime+*.swift` files.
final class WorkerRuntime: Sendable {
    let configuration: RotaWorkerConfiguration
    let handlers: RotaHandlers
    let logger: Logger
    let executorID: String
    let queueNames: [String]

    /// Claims (one statement at a time, never behind a slow heartbeat).
    let claimStatements: Statements
    /// Heartbeats, on a connection of their own so leases are renewed on time.
    let heartbeatStatements: Statements
    /// Reaping, pruning and schedules.
    let maintenanceStatements: Statements
    /// The connections handlers' steps and transactions share.
    let workflowConnections: ConnectionPool

    let inFlight = InFlightTasks()
    let completions: CompletionBatcher
    /// Wakes the claim loop: a notification, a freed slot, shutdown.
    let claimWake = WakeSignal()
    /// Wakes the drain at shutdown when a handler finishes.
    let drainWake = WakeSignal()
    /// Wakes the schedule loop when schedules change.
    let scheduleWake = WakeSignal()
    /// Wakes the heartbeat loop when a claim brings a lease shorter than the one it waits for.
    let heartbeatWake = WakeSignal()
    private let shuttingDown = Atomic<Bool>(false)
    /// The lease of the latest claim (each claimed task carries its own, see ``ClaimedTask/lease``).
    let latestClaimedLease = Mutex<Duration?>(nil)
    /// When a heartbeat (or the registration) last succeeded.
    let lastHeartbeat = Mutex<ContinuousClock.Instant>(.now)

    init(configuration: RotaWorkerConfiguration, handlers: RotaHandlers, logger: Logger) {
        self.configuration = configuration
        self.handlers = handlers
        self.logger = logger
        self.executorID = configuration.executorID
        self.queueNames = configuration.queues.keys.sorted()
        func statements(_ role: String) -> Statements {
            var connectionLogger = logger
            connectionLogger[metadataKey: "connection"] = "\(role)"
            // Each attempt retries briefly; the loops retry again with their own backoff, so
            // a loop is never stuck inside a connect while shutdown or lease checks are due.
            return Statements(connection: ReconnectingConnection(
                connectionString: configuration.connectionString, logger: connectionLogger,
                backoff: configuration.backoff, connectTimeout: .seconds(1)))
        }
        claimStatements = statements("claim")
        heartbeatStatements = statements("heartbeat")
        maintenanceStatements = statements("maintenance")
        var workflowLogger = logger
        workflowLogger[metadataKey: "connection"] = "workflow"
        workflowConnections = ConnectionPool(size: configuration.workflowConnections,
                                             connectionString: configuration.connectionString, logger: workflowLogger,
                                             backoff: configuration.backoff, connectTimeout: .seconds(1))
        let claimWake = self.claimWake
        completions = CompletionBatcher(statements: statements("complete"),
                                        window: configuration.completionBatchWindow,
                                        maxBatch: configuration.maxCompletionBatch,
                                        backoff: configuration.backoff, logger: logger,
                                        onFlushed: { claimWake.signal() })
    }

    var isShuttingDown: Bool { shuttingDown.load(ordering: .relaxed) }

    /// Graceful shutdown: stop claiming; the claim loop then drains.
    func beginShutdown() {
        guard !shuttingDown.exchange(true, ordering: .relaxed) else { return }
        logger.info("graceful shutdown: no new claims, draining running tasks",
                    metadata: ["running": "\(inFlight.count)"])
        claimWake.signal()
        scheduleWake.signal()
    }

    /// The lease the heartbeat must keep: the shortest of the running tasks' leases, else
    /// the latest claim's; nil before the first claim.
    var currentLease: Duration? {
        inFlight.shortestLease ?? latestClaimedLease.withLock { $0 }
    }

    /// A third of ``currentLease``, so that two heartbeats may fail before a lease ends;
    /// before the first claim (nothing to renew, only liveness to report) the poll interval.
    var heartbeatInterval: Duration {
        if let configured = configuration.heartbeatInterval { return configured }
        guard let lease = currentLease else { return configuration.pollInterval }
        return max(lease / 3, .milliseconds(100))
    }

    /// Records claimed tasks as running (each returned with the event that aborts its
    /// handler), and wakes the heartbeat when their leases need it sooner.
    func startTracking(_ tasks: [ClaimedTask]) -> [(task: ClaimedTask, abort: OneShotEvent<AbortReason>)] {
        guard let shortest = tasks.map(\.lease).min() else { return [] }
        let intervalBefore = heartbeatInterval
        let tracked = tasks.map { (task: $0, abort: inFlight.add($0)) }
        latestClaimedLease.withLock { $0 = shortest }
        if heartbeatInterval < intervalBefore { heartbeatWake.signal() }
        return tracked
    }

    /// The whole life of the worker.
    func run() async throws {
        guard !queueNames.isEmpty else { throw RotaError(.invalidUsage, "a worker needs at least one queue") }
        guard try await startUp() else { return }
        logger.info("worker started", metadata: ["queues": "\(configuration.queues)",
                                                 "heartbeat": "\(heartbeatInterval)"])
        await withDiscardingTaskGroup { background in
            background.addTask { await self.listen() }
            background.addTask { await self.heartbeatLoop() }
            background.addTask { await self.leaseWatchdog() }
            background.addTask { await self.maintenanceLoop() }
            background.addTask { await self.completions.run() }
            if configuration.runsSchedules { background.addTask { await self.scheduleLoop() } }

            await claimAndRun()

            // Every handler has ended: write their outcomes before releasing the rest, so a
            // finished task is never put back in its queue.
            if !(await completions.drain(timeout: configuration.shutdownGracePeriod)) {
                logger.error("could not write all task outcomes before stopping; their leases will expire")
            }
            await stopExecutor()
            background.cancelAll()
        }
        await claimStatements.connection.close()
        await heartbeatStatements.connection.close()
        await maintenanceStatements.connection.close()
        await workflowConnections.close()
        logger.info("worker stopped")
    }

    /// Registers the executor; retries connection errors until shutdown.
    /// Returns false when shutdown or cancellation came first.
    private func startUp() async throws -> Bool {
        var attempt = 0
        while !isShuttingDown && !Task.isCancelled {
            do {
                try await claimStatements.registerExecutor(
                    executorID, queues: queueNames, host: ProcessInfo.processInfo.hostName,
                    pid: Int(ProcessInfo.processInfo.processIdentifier),
                    meta: PostgresJSON(encoding: ["concurrency": configuration.queues]))
                lastHeartbeat.withLock { $0 = .now }  // registering counts as a heartbeat
                return true
            } catch let error as RotaError where error.isConnectionError {
                if attempt == 0 { logger.warning("cannot reach the database, retrying", metadata: ["error": "\(error)"]) }
                try await Task.sleep(for: configuration.backoff.delay(afterAttempt: attempt))
                attempt += 1
            }
        }
        return false
    }

    /// Releases whatever is still running (after the drain) and marks the executor stopped.
    /// Gives up after a few seconds when the database is away: the leases then expire and
    /// another executor's reaper recovers the tasks.
    private func stopExecutor() async {
        let deadline = ContinuousClock.now + .seconds(5)
        var attempt = 0
        while true {
            do {
                let count = try await claimStatements.stopExecutor(executorID)
                if count > 0 { logger.info("released unfinished tasks", metadata: ["count": "\(count)"]) }
                return
            } catch {
                guard ContinuousClock.now < deadline, !Task.isCancelled else {
                    logger.error("could not release tasks at shutdown; their leases will expire",
                                 metadata: ["error": "\(error)"])
                    return
                }
                try? await Task.sleep(for: configuration.backoff.delay(afterAttempt: attempt))
                attempt += 1
            }
        }
    }
}
