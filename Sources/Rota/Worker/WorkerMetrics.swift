import Metrics

/// The worker's own metrics, through the swift-metrics API: whichever backend the process
/// bootstraps receives them (`RotaObservability` serves them to Prometheus); without one
/// they cost next to nothing. Names and meanings: docs/metrics.md.
struct WorkerMetrics: Sendable {
    static let claimsLabel = "rota_worker_claims_total"
    static let claimSizeLabel = "rota_worker_claim_size"
    static let handlerDurationLabel = "rota_worker_handler_duration_seconds"
    static let completedLabel = "rota_worker_tasks_completed_total"
    static let failedLabel = "rota_worker_tasks_failed_total"
    static let inFlightLabel = "rota_worker_tasks_in_flight"
    static let heartbeatLagLabel = "rota_worker_heartbeat_lag_seconds"
    static let reconnectsLabel = "rota_worker_reconnects_total"

    private let inFlight = Gauge(label: WorkerMetrics.inFlightLabel)
    private let heartbeatLag = Gauge(label: WorkerMetrics.heartbeatLagLabel)

    /// One claim statement on `queue` that took `count` tasks.
    func claimed(queue: String, count: Int) {
        Counter(label: Self.claimsLabel, dimensions: [("queue", queue)]).increment()
        Recorder(label: Self.claimSizeLabel, dimensions: [("queue", queue)], aggregate: true).record(count)
    }

    /// A handler of `task` ended after `duration`; `succeeded` false for a failure or timeout.
    func handlerEnded(task: String, duration: Duration, succeeded: Bool) {
        Timer(label: Self.handlerDurationLabel, dimensions: [("task", task)]).recordNanoseconds(duration.nanoseconds)
        Counter(label: succeeded ? Self.completedLabel : Self.failedLabel, dimensions: [("task", task)]).increment()
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
