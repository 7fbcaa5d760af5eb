import Foundation
import Logging
import Metrics
import Synchronization

/// The state of one running ``RotaWorker``: its connections, running handlers and signals.
/// The loops that use it live in the `WorkerRuntime+*.swift` files.
final class WorkerRuntime: Sendable {
    let configuration: RotaWorkerConfiguration
    let handlers: RotaHandlers
    let logger: Logger
    let health: RotaWorkerHealth
    let metrics = WorkerMetrics()
    let executorID: String
    let queueNames: [String]
    /// The claim statements of a look for work, from the queues' capacities.
    let claimGroups: ClaimGroups

    /// Claims (one statement at a time, never behind a slow heartbeat).
    let claimStatements: Statements
    /// Heartbeats, on a connection of their own so leases are renewed on time.
    let heartbeatStatements: Statements
    /// Reaping, pruning and schedules: statements short enough to share a connection (a
    /// prune deletes one batch per call), so each worker has one maintenance session.
    let maintenanceStatements: Statements
    /// The connections handlers' steps and transactions share.
    let workflowConnections: ConnectionPool

    let inFlight = InFlightTasks()
    /// The client whose ``RotaClient/start(queue:task:payload:options:)`` runs tasks here.
    let client: RotaClient?
    /// Tasks started directly on this executor, from ``startDirect`` to ``runDirectStarts()``.
    let directStarts = AsyncStream.makeStream(of: DirectStart.self)
    let completions: CompletionBatcher
    /// Wakes the claim loop: a notification, a freed slot, shutdown.
    let claimWake = WakeSignal()
    /// Wakes the drain at shutdown when a handler finishes.
    let drainWake = WakeSignal()
    /// Wakes the schedule loop when schedules change.
    let scheduleWake = WakeSignal()
    /// Wakes the heartbeat loop when a claim brings a lease shorter than the one it waits for.
    let heartbeatWake = WakeSignal()
    /// Wakes the prune loop at shutdown.
    let pruneWake = WakeSignal()
    /// The tasks finished since the prune loop last looked: it deletes more while they come.
    let finishedTasks = FinishedTaskCounter()
    private let shuttingDown = Atomic<Bool>(false)
    /// When graceful shutdown began: the grace period counts from then.
    private let shutdownBegan = Mutex<ContinuousClock.Instant?>(nil)
    /// The lease of the latest claim (each claimed task carries its own, see ``ClaimedTask/lease``).
    let latestClaimedLease = Mutex<Duration?>(nil)
    /// When a heartbeat (or the registration) last succeeded.
    let lastHeartbeat = Mutex<ContinuousClock.Instant>(.now)

    init(configuration: RotaWorkerConfiguration, handlers: RotaHandlers, logger: Logger, health: RotaWorkerHealth,
         client: RotaClient? = nil) {
        self.configuration = configuration
        self.client = client
        self.handlers = handlers
        self.logger = logger
        self.health = health
        self.executorID = configuration.executorID
        self.claimGroups = ClaimGroups(capacity: configuration.queues)
        self.queueNames = claimGroups.queueNames
        func statements(_ role: String) -> Statements {
            var connectionLogger = logger
            connectionLogger[metadataKey: "connection"] = "\(role)"
            // Each attempt retries briefly; the loops retry again with their own backoff, so
            // a loop is never stuck inside a connect while shutdown or lease checks are due.
            return Statements(connection: ReconnectingConnection(
                connectionString: configuration.connectionString, logger: connectionLogger,
                backoff: configuration.backoff, connectTimeout: .seconds(1),
                reconnects: Counter(label: WorkerMetrics.reconnectsLabel, dimensions: [("connection", role)])))
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
        let finishedTasks = self.finishedTasks
        completions = CompletionBatcher(statements: statements("complete"),
                                        window: configuration.completionBatchWindow,
                                        maxBatch: configuration.maxCompletionBatch,
                                        backoff: configuration.backoff, logger: logger,
                                        onFlushed: { finished in
                                            finishedTasks.add(finished)
                                            claimWake.signal()
                                        })
    }

    var isShuttingDown: Bool { shuttingDown.load(ordering: .relaxed) }

    /// Graceful shutdown: stop claiming; the claim loop then drains.
    func beginShutdown() {
        guard !shuttingDown.exchange(true, ordering: .relaxed) else { return }
        detachFromClient()
        shutdownBegan.withLock { $0 = .now }
        logger.info("graceful shutdown: no new claims, draining running tasks",
                    metadata: ["running": "\(inFlight.count)"])
        claimWake.signal()
        scheduleWake.signal()
        pruneWake.signal()
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
        metrics.running(inFlight.count)
        latestClaimedLease.withLock { $0 = shortest }
        if heartbeatInterval < intervalBefore { heartbeatWake.signal() }
        return tracked
    }

    /// The whole life of the worker.
    func run() async throws {
        guard !queueNames.isEmpty else { throw RotaError(.invalidUsage, "a worker needs at least one queue") }
        guard try await startUp() else { return }
        try attachToClient()
        defer { detachFromClient() }
        logger.info("worker started", metadata: ["queues": "\(configuration.queues)",
                                                 "heartbeat": "\(heartbeatInterval)"])
        await withDiscardingTaskGroup { background in
            background.addTask { await self.listen() }
            background.addTask { await self.runDirectStarts() }
            background.addTask { await self.heartbeatLoop() }
            background.addTask { await self.leaseWatchdog() }
            background.addTask { await self.reapLoop() }
            background.addTask { await self.pruneLoop() }
            background.addTask { await self.completions.run() }
            if configuration.runsSchedules { background.addTask { await self.scheduleLoop() } }

            await claimAndRun()

            // Every handler has ended: write their outcomes before releasing the rest, so a
            // finished task is never put back in its queue. Both share what is left of the
            // grace period, so that an orchestrator waiting that long never has to kill us.
            let deadline = shutdownDeadline
            if !(await completions.drain(timeout: max(deadline - .now, Self.minimumReleaseTime))) {
                logger.error("could not write all task outcomes before stopping; their leases will expire")
            }
            await stopExecutor(until: max(deadline, .now + Self.minimumReleaseTime))
            background.cancelAll()
        }
        await claimStatements.connection.close()
        await heartbeatStatements.connection.close()
        await maintenanceStatements.connection.close()
        await workflowConnections.close()
        logger.info("worker stopped")
    }

    /// Checks that every configured queue exists and registers the executor, retrying while
    /// the database cannot be reached (until shutdown). Returns false when shutdown came first.
    /// Throws ``RotaError/Code/unknownQueue`` naming every missing queue, and failures that
    /// waiting does not fix (a wrong password, an unknown database): the worker stops at once.
    private func startUp() async throws -> Bool {
        let retry = ConnectionRetry(backoff: configuration.backoff, logger: logger)
        let started: Void? = try await retry.run("start the worker", shouldStop: { isShuttingDown || Task.isCancelled }) {
            let unknown = try await claimStatements.unknownQueues(queueNames)
            guard unknown.isEmpty else {
                throw RotaError(.unknownQueue,
                                "worker: unknown queue\(unknown.count == 1 ? "" : "s") "
                                    + unknown.map { "'\($0)'" }.joined(separator: ", ")
                                    + " (define it with rota.define_queue or rota apply before starting the worker)",
                                sqlState: "RO001")
            }
            try await claimStatements.registerExecutor(
                executorID, queues: queueNames, host: ProcessInfo.processInfo.hostName,
                pid: Int(ProcessInfo.processInfo.processIdentifier),
                meta: PostgresJSON(encoding: ["concurrency": configuration.queues]))
            lastHeartbeat.withLock { $0 = .now }  // registering counts as a heartbeat
            health.setRegistered(true)
            health.setConnected(true)
        }
        return started != nil
    }

    /// However late the handlers ended, writing outcomes and releasing tasks may take this
    /// long: enough for one round trip to a healthy database.
    static let minimumReleaseTime: Duration = .milliseconds(500)

    /// When the grace period ends: counted from the start of graceful shutdown (from now
    /// when the worker stops otherwise).
    var shutdownDeadline: ContinuousClock.Instant {
        (shutdownBegan.withLock { $0 } ?? .now) + configuration.shutdownGracePeriod
    }

    /// Releases whatever is still running (after the drain) and marks the executor stopped,
    /// retrying connection errors until `deadline`. When the database is away past it, the
    /// tasks are left to the reaper of another executor (their leases expire).
    private func stopExecutor(until deadline: ContinuousClock.Instant) async {
        health.setRegistered(false)
        let outcome: Result<Int, any Error>? = await withTaskGroup(of: Result<Int, any Error>?.self) { group in
            group.addTask {
                var attempt = 0
                while true {
                    do {
                        return .success(try await self.claimStatements.stopExecutor(self.executorID))
                    } catch let error as RotaError where error.isConnectionError {
                        do {
                            try await Task.sleep(for: self.configuration.backoff.delay(afterAttempt: attempt))
                        } catch {
                            return nil  // the deadline passed
                        }
                        attempt += 1
                    } catch {
                        return .failure(error)
                    }
                }
            }
            group.addTask {
                try? await Task.sleep(until: deadline)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        switch outcome {
        case .success(let count):
            if count > 0 { logger.info("released unfinished tasks", metadata: ["count": "\(count)"]) }
        case .failure(let error):
            logger.error("could not release tasks at shutdown; their leases will expire", metadata: ["error": "\(error)"])
        case nil:
            logger.warning("grace period over before unfinished tasks could be released; leaving them to the reaper (their leases expire)")
        }
    }
}
