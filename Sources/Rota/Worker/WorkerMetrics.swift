import Metrics
import Synchronization

/// The worker's own metrics, through the swift-metrics API: whichever backend the process
/// bootstraps receives them (`RotaObservability` serves them to Prometheus); without one
/// they cost next to nothing. Names and meanings: docs/metrics.md.
final class WorkerMetrics: Sendable {
    static let claimsLabel = "rota_worker_claims_total"
    static let claimSizeLabel = "rota_worker_claim_size"
    static let directStartsLabel = "rota_worker_direct_starts_total"
    static let handlerDurationLabel = "rota_worker_handler_duration_seconds"
    static let completedLabel = "rota_worker_tasks_completed_total"
    static let failedLabel = "rota_worker_tasks_failed_total"
    static let inFlightLabel = "rota_worker_tasks_in_flight"
    static let heartbeatLagLabel = "rota_worker_heartbeat_lag_seconds"
    static let reconnectsLabel = "rota_worker_reconnects_total"

    private let inFlight = Gauge(label: WorkerMetrics.inFlightLabel)
    private let heartbeatLag = Gauge(label: WorkerMetrics.heartbeatLagLabel)

    /// The metrics of one queue or task, made once: making one goes through the backend's
    /// registry (a lock and a lookup), too slow for every task.
    private struct QueueMetrics { let claims: Counter; let claimSize: Recorder; let directStarts: Counter }
    private struct TaskMetrics { let duration: Timer; let completed: Counter; let failed: Counter }
    private let byQueue = Mutex<[String: QueueMetrics]>([:])
    private let byTask = Mutex<[String: TaskMetrics]>([:])

    init() {}

    /// One claim statement on `queue` that took `count` tasks.
    func claimed(queue: String, count: Int) {
        let metrics = queueMetrics(queue)
        metrics.claims.increment()
        metrics.claimSize.record(count)
    }

    /// A task of `queue` that `rota.start` created on this worker: no claim statement.
    func startedDirectly(queue: String) {
        queueMetrics(queue).directStarts.increment()
    }

    private func queueMetrics(_ queue: String) -> QueueMetrics {
        byQueue.withLock { cache in
            if let known = cache[queue] { return known }
            let dimensions = [("queue", queue)]
            let made = QueueMetrics(claims: Counter(label: Self.claimsLabel, dimensions: dimensions),
                                    claimSize: Recorder(label: Self.claimSizeLabel, dimensions: dimensions, aggregate: true),
                                    directStarts: Counter(label: Self.directStartsLabel, dimensions: dimensions))
            cache[queue] = made
            return made
        }
    }

    /// A handler of `task` ended after `duration`; `succeeded` false for a failure or timeout.
    func handlerEnded(task: String, duration: Duration, succeeded: Bool) {
        let metrics = byTask.withLock { cache in
            if let known = cache[task] { return known }
            let dimensions = [("task", task)]
            let made = TaskMetrics(duration: Timer(label: Self.handlerDurationLabel, dimensions: dimensions),
                                   completed: Counter(label: Self.completedLabel, dimensions: dimensions),
                                   failed: Counter(label: Self.failedLabel, dimensions: dimensions))
            cache[task] = made
            return made
        }
        metrics.duration.recordNanoseconds(duration.nanoseconds)
        (succeeded ? metrics.completed : metrics.failed).increment()
    }

    /// The number of handlers running now.
    func running(_ count: Int) {
        inFlight.record(count)
    }

    /// How long after it was due a heartbeat succeeded.
    func heartbeatSucceeded(lag: Duration) {
        heartbeatLag.record(lag.seconds)
    }
}

extension Duration {
    /// The duration in (fractional) seconds.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// The duration in whole nanoseconds, saturating.
    var nanoseconds: Int64 {
        let (whole, overflow) = components.seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : whole &+ components.attoseconds / 1_000_000_000
    }
}
