extension RotaClient {
    /// The active alerts of `rota.alerts` (empty when all is well).
    public func alerts() async throws -> [RotaAlert] {
        try await statements.alerts()
    }

    /// The database's metrics from `rota.metrics()`: queues, schedules, executors and alerts
    /// in the OpenMetrics text format, or the Prometheus text format (0.0.4) with
    /// `prometheusText`.
    public func metrics(prometheusText: Bool = false) async throws -> String {
        try await statements.metrics(format: prometheusText ? "prometheus" : "openmetrics")
    }
}
