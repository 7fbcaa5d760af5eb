extension Statements {
    /// `rota.define_schedule`, with the options that are set.
    func defineSchedule(_ name: String, cron: String, queue: String, task: String, payload: PostgresJSON?,
                        timezone: String?, catchUp: CatchUpPolicy?, enabled: Bool?, catchUpMax: Int?,
                        alertLateAfter: Duration?) async throws {
        var call = FunctionCall("rota.define_schedule")
        call.add("name", name)
        call.add("cron", cron)
        call.add("queue", queue)
        call.add("task", task)
        call.add("payload", payload, as: "jsonb")
        call.add("timezone", timezone)
        call.add("catch_up", catchUp)
        call.add("enabled", enabled, as: "boolean")
        call.add("catch_up_max", catchUpMax, as: "int")
        call.add("alert_late_after", alertLateAfter.map(PostgresInterval.init), as: "interval")
        try await run("SELECT \(call.sql)", call.parameters)
    }

    func triggerSchedule(_ name: String) async throws -> Int64 {
        try await run("SELECT rota.trigger_schedule($1) AS id", [name])[0].decode("id")
    }

    func pauseSchedule(_ name: String) async throws {
        try await run("SELECT rota.pause_schedule($1)", [name])
    }

    func resumeSchedule(_ name: String) async throws {
        try await run("SELECT rota.resume_schedule($1)", [name])
    }

    func dropSchedule(_ name: String) async throws {
        try await run("SELECT rota.drop_schedule($1)", [name])
    }

    func scheduleStatus() async throws -> [RotaScheduleStatus] {
        try await run("SELECT * FROM rota.schedule_status ORDER BY name").map(RotaScheduleStatus.init(row:))
    }

    /// `rota.apply`: its answer as JSON text.
    func apply(definitions: PostgresJSON) async throws -> String {
        try await run("SELECT rota.apply($1::jsonb)::text AS outcome", [definitions])[0].decode("outcome")
    }

    /// `rota.fire_due`: fires due schedules, oldest first, about `maxFires` at most (a
    /// schedule's catch-up fires are never split); returns how many fired.
    func fireDue(executor: String, maxFires: Int) async throws -> Int {
        try await run("SELECT * FROM rota.fire_due($1, $2::int)", [executor, maxFires]).count
    }

    /// Seconds until `rota.next_fire_at()` by the database clock; nil when nothing is scheduled.
    func secondsUntilNextFire() async throws -> Double? {
        try await run("SELECT extract(epoch FROM rota.next_fire_at() - clock_timestamp())::float8 AS delay")
            .first?.decode("delay", as: Double?.self)
    }
}
