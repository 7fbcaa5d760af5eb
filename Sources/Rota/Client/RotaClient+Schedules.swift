extension RotaClient {
    /// Creates or updates a cron schedule whose fires enqueue `task` in `queue` (idempotent);
    /// arguments left nil take the defaults of `rota.define_schedule`.
    /// - Parameters:
    ///   - cron: 5 fields, or 6 with seconds first; names, ranges, steps and `@daily`-style macros.
    ///   - payloadJSON: merged into every fire's payload.
    ///   - timezone: the IANA zone the expression is read in.
    ///   - catchUp: what happens to fires missed while nothing ran.
    ///   - catchUpMax: with ``CatchUpPolicy/all``, at most this many missed fires run.
    ///   - alertLateAfter: `rota.alerts` reports `schedule_late` when a fire is overdue by more than this.
    public func defineSchedule(_ name: String, cron: String, queue: String, task: String,
                               payloadJSON: PostgresJSON? = nil, timezone: String? = nil,
                               catchUp: CatchUpPolicy? = nil, enabled: Bool? = nil, catchUpMax: Int? = nil,
                               alertLateAfter: Duration? = nil) async throws {
        try await statements.defineSchedule(name, cron: cron, queue: queue, task: task, payload: payloadJSON,
                                            timezone: timezone, catchUp: catchUp, enabled: enabled, catchUpMax: catchUpMax,
                                            alertLateAfter: alertLateAfter)
    }

    /// Fires a schedule now, outside its cron, and returns the id of the task it enqueued.
    @discardableResult
    public func triggerSchedule(_ name: String) async throws -> Int64 {
        try await statements.triggerSchedule(name)
    }

    /// Stops a schedule from firing until ``resumeSchedule(_:)``.
    public func pauseSchedule(_ name: String) async throws {
        try await statements.pauseSchedule(name)
    }

    /// Lets a paused schedule fire again; fires missed while it was paused are skipped.
    public func resumeSchedule(_ name: String) async throws {
        try await statements.resumeSchedule(name)
    }

    /// Deletes a schedule and its fire history (the tasks it enqueued stay).
    public func dropSchedule(_ name: String) async throws {
        try await statements.dropSchedule(name)
    }

    /// Every schedule with its next and last fire and the outcome of the last fire's task.
    public func scheduleStatus() async throws -> [RotaScheduleStatus] {
        try await statements.scheduleStatus()
    }

    /// Applies a definitions document (queues and schedules) with `rota.apply` and returns
    /// its answer as JSON text: `{"status": "applied" | "unchanged" | "stale", ...}`.
    @discardableResult
    public func apply(definitionsJSON: PostgresJSON) async throws -> String {
        try await statements.apply(definitions: definitionsJSON)
    }
}
