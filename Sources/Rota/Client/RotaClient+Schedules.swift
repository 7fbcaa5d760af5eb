import Foundation

/// A row of `rota.schedule_status`.
public struct RotaScheduleStatus: Sendable, Hashable, Codable {
    public var name: String
    public var cron: String
    public var timezone: String
    public var queue: String
    public var task: String
    public var enabled: Bool
    /// `none`, `latest` or `all`.
    public var catchUp: String
    /// Defined by a definitions document (`rota.apply`) rather than by hand.
    public var managed: Bool
    public var nextFireAt: Date?
    public var lastFireAt: Date?
    /// The state of the last fire's task (nil once it was pruned, or before the first fire).
    public var lastTaskState: String?
    public var lastStartedAt: Date?
    public var lastFinishedAt: Date?
    public var lastExecutor: String?

    init(row: PostgresRow) throws {
        name = try row.decode("name")
        cron = try row.decode("cron")
        timezone = try row.decode("timezone")
        queue = try row.decode("queue")
        task = try row.decode("task")
        enabled = try row.decode("enabled")
        catchUp = try row.decode("catch_up")
        managed = try row.decode("managed")
        nextFireAt = try row.decodeIfPresent("next_fire_at")
        lastFireAt = try row.decodeIfPresent("last_fire_at")
        lastTaskState = try row.decodeIfPresent("last_task_state")
        lastStartedAt = try row.decodeIfPresent("last_started_at")
        lastFinishedAt = try row.decodeIfPresent("last_finished_at")
        lastExecutor = try row.decodeIfPresent("last_executor")
    }
}

extension RotaClient {
    /// Creates or updates a cron schedule whose fires enqueue `task` in `queue` (idempotent).
    /// - Parameters:
    ///   - cron: 5 fields, or 6 with seconds first; names, ranges, steps and `@daily`-style macros.
    ///   - timezone: the IANA zone the expression is read in.
    ///   - catchUp: `none`, `latest` or `all` — what happens to fires missed while nothing ran.
    public func defineSchedule(_ name: String, cron: String, queue: String, task: String,
                               payloadJSON: PostgresJSON = PostgresJSON(text: "{}"), timezone: String = "UTC",
                               catchUp: String = "latest", enabled: Bool = true, catchUpMax: Int = 100) async throws {
        try await query(
            "SELECT rota.define_schedule($1, $2, $3, $4, $5::jsonb, $6, $7, $8::boolean, $9::int)",
            [name, cron, queue, task, payloadJSON, timezone, catchUp, enabled, catchUpMax])
    }

    /// Fires a schedule now, outside its cron, and returns the id of the task it enqueued.
    @discardableResult
    public func triggerSchedule(_ name: String) async throws -> Int64 {
        try await query("SELECT rota.trigger_schedule($1) AS id", [name])[0].decode("id")
    }

    /// Stops a schedule from firing until ``resumeSchedule(_:)``.
    public func pauseSchedule(_ name: String) async throws {
        try await query("SELECT rota.pause_schedule($1)", [name])
    }

    /// Lets a paused schedule fire again; fires missed while it was paused are skipped.
    public func resumeSchedule(_ name: String) async throws {
        try await query("SELECT rota.resume_schedule($1)", [name])
    }

    /// Deletes a schedule and its fire history (the tasks it enqueued stay).
    public func dropSchedule(_ name: String) async throws {
        try await query("SELECT rota.drop_schedule($1)", [name])
    }

    /// Every schedule with its next and last fire and the outcome of the last fire's task.
    public func scheduleStatus() async throws -> [RotaScheduleStatus] {
        let rows = try await query("SELECT * FROM rota.schedule_status ORDER BY name")
        return try rows.map { try RotaScheduleStatus(row: $0) }
    }

    /// Applies a definitions document (queues and schedules) with `rota.apply` and returns
    /// its answer as JSON text: `{"status": "applied" | "unchanged" | "stale", ...}`.
    @discardableResult
    public func apply(definitionsJSON: PostgresJSON) async throws -> String {
        try await query("SELECT rota.apply($1::jsonb)::text AS outcome", [definitionsJSON])[0].decode("outcome")
    }
}
