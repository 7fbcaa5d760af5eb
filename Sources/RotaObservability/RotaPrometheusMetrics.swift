import CoreMetrics
import Prometheus

/// A swift-metrics backend that records into a Prometheus registry, like swift-prometheus'
/// `PrometheusMetricsFactory`, and gives the worker's metrics their `# HELP` text (the
/// swift-metrics API carries none, and Prometheus' linters want it). Metrics of other
/// libraries pass through unchanged.
public struct RotaPrometheusMetricsFactory: MetricsFactory {
    /// Where the metrics are recorded; its text is what `/metrics` serves.
    public let registry: PrometheusCollectorRegistry
    private let base: PrometheusMetricsFactory

    /// The help text of each worker metric (docs/metrics.md).
    static let help: [String: String] = [
        "rota_worker_claims_total": "Claim statements, by queue.",
        "rota_worker_claim_size": "Tasks taken per claim statement, by queue.",
        "rota_worker_direct_starts_total": "Tasks rota.start created on this worker, by queue (not claim statements).",
        "rota_worker_handler_duration_seconds": "Handler run time, by task (completed, failed or timed out).",
        "rota_worker_tasks_completed_total": "Handlers that completed, by task.",
        "rota_worker_tasks_failed_total": "Handlers that failed or timed out, by task.",
        "rota_worker_tasks_in_flight": "Handlers running now.",
        "rota_worker_heartbeat_lag_seconds": "How long after it was due the last heartbeat succeeded.",
        "rota_worker_reconnects_total": "Database connections made again after a broken one, by connection.",
    ]

    /// Claim sizes: one task up to a large batch.
    static let claimSizeBuckets: [Double] = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256]

    /// A backend recording into `registry`.
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var base = PrometheusMetricsFactory(registry: registry)
        base.valueHistogramBuckets["rota_worker_claim_size"] = Self.claimSizeBuckets
        self.base = base
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        guard let help = Self.help[label] else { return base.makeCounter(label: label, dimensions: dimensions) }
        return registry.makeCounter(name: label, labels: dimensions, help: help)
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        base.makeFloatingPointCounter(label: label, dimensions: dimensions)
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard let help = Self.help[label] else {
            return base.makeRecorder(label: label, dimensions: dimensions, aggregate: aggregate)
        }
        guard aggregate else { return registry.makeGauge(name: label, labels: dimensions, help: help) }
        return registry.makeValueHistogram(name: label, labels: dimensions,
                                           buckets: base.valueHistogramBuckets[label] ?? base.defaultValueHistogramBuckets,
                                           help: help)
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        guard let help = Self.help[label] else { return base.makeMeter(label: label, dimensions: dimensions) }
        return registry.makeGauge(name: label, labels: dimensions, help: help)
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        guard let help = Self.help[label] else { return base.makeTimer(label: label, dimensions: dimensions) }
        return registry.makeDurationHistogram(name: label, labels: dimensions,
                                              buckets: base.defaultDurationHistogramBuckets, help: help)
    }

    public func destroyCounter(_ handler: any CounterHandler) { base.destroyCounter(handler) }
    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        base.destroyFloatingPointCounter(handler)
    }
    public func destroyRecorder(_ handler: any RecorderHandler) { base.destroyRecorder(handler) }
    public func destroyMeter(_ handler: any MeterHandler) { base.destroyMeter(handler) }
    public func destroyTimer(_ handler: any TimerHandler) { base.destroyTimer(handler) }
}
