import Foundation
import Rota
import RotaTestSupport
import XCTest

/// Cron schedules driven by real workers: exactly one fire per instant across `rota worker`
/// processes that are SIGKILLed and restarted while the database restarts; the catch-up
/// policies after every replica was down; the ticker woken by `NOTIFY rota_schedules`; the
/// fire instant handed to the handler.
final class ScheduleTests: XCTestCase {
    typealias WorkerProcess = MultiProcessTests.WorkerProcess

    static var dbScript: String { TestEnvironment.repositoryRoot.appendingPathComponent("scripts/db.sh").path }

    /// Whether the test server is the project-local cluster, which `scripts/db.sh restart` restarts
    /// (the same check as ``MultiProcessTests/testDatabaseRestartMidRunLosesNothing``).
    static func serverIsTheProjectLocalCluster() async throws -> Bool {
        let server = try await TestEnvironment.serverURL()
        let local = try await TestEnvironment.runCommand([dbScript, "url"])
        let localURL = local.output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard local.status == 0, let localPort = URLComponents(string: localURL)?.port else { return false }
        return URLComponents(string: server)?.port == localPort
            && URLComponents(string: server)?.host == URLComponents(string: localURL)?.host
    }

    func count(_ client: RotaClient, _ sql: String, _ parameters: [any PostgresBindable] = []) async throws -> Int {
        try await client.query(sql, parameters)[0].decode(at: 0, as: Int.self)
    }

    /// Sleeps until `offset` after `start` (the wall clock passing a schedule window is what is
    /// under test here, not a synchronisation).
    func sleep(until offset: Duration, after start: ContinuousClock.Instant) async throws {
        try await Task.sleep(until: start + offset, clock: .continuous)
    }

    /// Sleeps until just after the next whole second of the wall clock, when replicas are
    /// firing: a SIGKILL then likely lands while one of them is inside `rota.fire_due`.
    func sleepUntilJustAfterASecondBoundary() async throws {
        try await sleepUntilSecondBoundary(offsetMilliseconds: 2)
    }

    /// Sleeps until `offsetMilliseconds` from the next whole second of the wall clock
    /// (negative: before it; then at least that much before it).
    func sleepUntilSecondBoundary(offsetMilliseconds: Int64) async throws {
        let now = Date().timeIntervalSince1970
        var toNext = Int64((ceil(now) - now) * 1000) + offsetMilliseconds
        if toNext < 0 { toNext += 1000 }
        try await Task.sleep(for: .milliseconds(toNext))
    }

    // MARK: - Exactly once

    /// The headline: an every-second schedule with catch_up 'all' on three `rota worker`
    /// processes, one SIGKILLed and replaced and the database restarted during a 30 s window;
    /// every second of the window fired exactly once and its task succeeded.
    func testEverySecondScheduleFiresExactlyOnceThroughSIGKILLAndDatabaseRestart() async throws {
        let binary = try TestEnvironment.rotaBinary()
        let canRestart = try await Self.serverIsTheProjectLocalCluster()
        let url = try await TestEnvironment.freshDatabase("rota_test_sched_once")
        let client = RotaClient(connectionString: url, connectTimeout: .seconds(5))
        let queue = "sched_once", schedule = "every-second"
        try await client.defineQueue(queue, options: QueueOptions(maxAttempts: 20, lease: .seconds(2),
                                                                  backoffBase: .milliseconds(100), backoffMax: .seconds(1)))
        var workers = try (0..<3).map {
            try WorkerProcess(binary: binary, url: url, queue: queue, concurrency: 4, executorID: "once-\($0)")
        }
        try await waitUntil("three executors registered", timeout: .seconds(30)) {
            try await self.count(client, "SELECT count(*) FROM rota.executors WHERE id LIKE 'once-%' AND stopped_at IS NULL") == 3
        }

        // The window starts at the first fire after the definition: cron_next from the
        // transaction time of define_schedule, which is the schedule's created_at.
        try await client.query(
            "SELECT rota.define_schedule($1, '* * * * * *', $2, 'noop', catch_up => 'all', catch_up_max => 1000)",
            [schedule, queue])
        let windowStart = try await client.query(
            "SELECT rota.cron_next(cron, created_at, timezone)::text AS first FROM rota.schedules WHERE name = $1",
            [schedule])[0].decode("first", as: String.self)
        let clock = ContinuousClock()
        let defined = clock.now

        // ~8 s in: SIGKILL a worker (just after a second boundary, when the replicas are firing)
        // and start a new process in its place, with a new executor id.
        try await sleep(until: .seconds(8), after: defined)
        try await sleepUntilJustAfterASecondBoundary()
        let victim = workers[1]
        victim.signal(SIGKILL)
        let killStatus = try await victim.waitForExit(timeout: .seconds(10))
        XCTAssertEqual(killStatus, 128 + SIGKILL)
        let replacement = try WorkerProcess(binary: binary, url: url, queue: queue, concurrency: 4, executorID: "once-1r")
        workers[1] = replacement
        try await waitUntil("the replacement worker registered", timeout: .seconds(30)) {
            try await self.count(client, "SELECT count(*) FROM rota.executors WHERE id = 'once-1r'") == 1
        }
        print("SIGKILLed \(victim.executorID) \(clock.now - defined) into the window and started once-1r in its place")

        // ~15 s in: restart the database under the running workers, starting 300 ms before a
        // second boundary so that at least one instant falls due while it is down.
        try await sleep(until: .seconds(15), after: defined)
        if canRestart {
            try await sleepUntilSecondBoundary(offsetMilliseconds: -300)
            let restartStarted = clock.now
            let restart = try await TestEnvironment.runCommand([Self.dbScript, "restart"])
            XCTAssertEqual(restart.status, 0, restart.output)
            print("database restarted \(restartStarted - defined) into the window, in \(clock.now - restartStarted)")
            for worker in workers { XCTAssertTrue(worker.isRunning, "worker \(worker.executorID) survived the restart:\n\(worker.log)") }
        } else {
            print("DATABASE_URL is not the project-local cluster: not restarting the database in this run")
        }

        // ~31 s of window: pause at an instant when every due second has fired and the next
        // boundary is at least 300 ms away, so the expected set (every second from the window
        // start through the last second <= the pause instant) is exact.
        try await sleep(until: .seconds(31), after: defined)
        try await waitUntil("the ticker is caught up, early in a second", timeout: .seconds(60), every: .milliseconds(10)) {
            try await self.count(client, """
                SELECT count(*) FROM rota.schedules
                WHERE name = $1 AND next_fire_at - clock_timestamp() BETWEEN interval '300 ms' AND interval '1 second'
                """, [schedule]) == 1
        }
        try await client.query("BEGIN")
        let windowEnd: String
        let nextAtPause: String
        do {
            try await client.query("SELECT rota.pause_schedule($1)", [schedule])
            // The pause holds the schedule row: every fire_due that fired it has committed,
            // and none can fire it any more.
            let row = try await client.query(
                "SELECT clock_timestamp()::text AS end_at, next_fire_at::text AS next FROM rota.schedules WHERE name = $1",
                [schedule])[0]
            windowEnd = try row.decode("end_at", as: String.self)
            nextAtPause = try row.decode("next", as: String.self)
            try await client.query("COMMIT")
        } catch {
            _ = try? await client.query("ROLLBACK")
            throw error
        }
        print("window: first fire \(windowStart) through the pause at \(windowEnd) (next fire was \(nextAtPause))")

        let drained = try await waitUntil("the queue drained", timeout: .seconds(60), every: .milliseconds(50)) {
            let open = try await self.count(client, "SELECT count(*) FROM rota.tasks WHERE queue = $1 AND state <> 'succeeded'", [queue])
            return open == 0
        }
        print("queue drained \(drained) after the pause")

        let counts = try await client.query("""
            WITH expected AS (
                SELECT t FROM generate_series($2::timestamptz, $3::timestamptz, interval '1 second') AS t
            ), fires AS (
                SELECT fire_at, count(*) AS n FROM rota.schedule_fires WHERE schedule = $1 GROUP BY fire_at
            ), tasks AS (
                SELECT key, count(*) AS n, count(*) FILTER (WHERE state = 'succeeded') AS ok
                FROM rota.tasks WHERE queue = $4 GROUP BY key
            ), joined AS (
                SELECT e.t, coalesce(f.n, 0) AS fires, coalesce(k.n, 0) AS tasks, coalesce(k.ok, 0) AS ok
                FROM expected e
                LEFT JOIN fires f ON f.fire_at = e.t
                LEFT JOIN tasks k
                    ON k.key = 'schedule:' || $1 || ':' || to_char(e.t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
            )
            SELECT count(*)::int AS expected,
                   count(*) FILTER (WHERE fires = 1 AND tasks = 1)::int AS once,
                   count(*) FILTER (WHERE fires > 1 OR tasks > 1)::int AS twice,
                   count(*) FILTER (WHERE fires = 0 OR tasks = 0)::int AS missed,
                   count(*) FILTER (WHERE tasks > 0 AND ok = tasks)::int AS succeeded,
                   (SELECT count(*) FROM rota.schedule_fires f
                    WHERE f.schedule = $1 AND f.fire_at NOT IN (SELECT t FROM expected))::int AS fires_outside,
                   (SELECT count(*) FROM rota.tasks k WHERE k.queue = $4)::int AS tasks_total,
                   (SELECT count(*) FROM rota.schedule_fires f JOIN rota.tasks k ON k.id = f.task_id
                    WHERE f.schedule = $1
                      AND k.key = 'schedule:' || $1 || ':' || to_char(f.fire_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                   )::int AS fires_with_their_task,
                   (SELECT array_agg(to_char(t AT TIME ZONE 'UTC', 'HH24:MI:SS') ORDER BY t)
                    FROM joined WHERE fires <> 1 OR tasks <> 1) AS bad
            FROM joined
            """, [schedule, windowStart, windowEnd, queue])[0]
        let expected = try counts.decode("expected", as: Int.self)
        let once = try counts.decode("once", as: Int.self)
        let twice = try counts.decode("twice", as: Int.self)
        let missed = try counts.decode("missed", as: Int.self)
        let succeeded = try counts.decode("succeeded", as: Int.self)
        let firesOutside = try counts.decode("fires_outside", as: Int.self)
        let tasksTotal = try counts.decode("tasks_total", as: Int.self)
        let linked = try counts.decode("fires_with_their_task", as: Int.self)
        let bad = try counts.decode("bad", as: [String]?.self) ?? []
        print("exactly-once: expected \(expected), once \(once), twice \(twice), missed \(missed)")
        print("tasks succeeded \(succeeded) of \(expected); fires outside the window \(firesOutside); "
              + "tasks in the queue \(tasksTotal); fires linked to their keyed task \(linked)")

        XCTAssertGreaterThanOrEqual(expected, 31, "the window covers 30 s or more")
        XCTAssertEqual(once, expected, "seconds not fired exactly once: \(bad)")
        XCTAssertEqual(twice, 0)
        XCTAssertEqual(missed, 0)
        XCTAssertEqual(succeeded, expected)
        XCTAssertEqual(firesOutside, 0)
        XCTAssertEqual(tasksTotal, expected)
        XCTAssertEqual(linked, expected)

        let byExecutor = try await client.query(
            "SELECT executor, count(*)::int AS n FROM rota.schedule_fires WHERE schedule = $1 GROUP BY executor ORDER BY executor",
            [schedule])
        print("fires per executor: " + (try byExecutor.map {
            "\(try $0.decode("executor", as: String?.self) ?? "-")=\(try $0.decode("n", as: Int.self))"
        }.joined(separator: " ")))
        let lag = try await client.query("""
            SELECT round(extract(epoch FROM max(fired_at - fire_at))::numeric, 3)::float8 AS worst,
                   round(extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY fired_at - fire_at))::numeric, 3)::float8 AS median,
                   count(*) FILTER (WHERE fired_at - fire_at > interval '1 second')::int AS late
            FROM rota.schedule_fires WHERE schedule = $1
            """, [schedule])[0]
        print("fire lag (fired_at - fire_at): median \(try lag.decode("median", as: Double.self)) s, "
              + "worst \(try lag.decode("worst", as: Double.self)) s, \(try lag.decode("late", as: Int.self)) fire(s) more than 1 s late (caught up)")

        for worker in workers { worker.signal(SIGTERM) }
        for worker in workers {
            let status = try await worker.waitForExit(timeout: .seconds(20))
            XCTAssertEqual(status, 0, "worker \(worker.executorID) exit status; log:\n\(worker.log)")
            if canRestart {
                XCTAssertTrue(worker.log.contains("listener connection lost"), "worker \(worker.executorID) saw the restart:\n\(worker.log)")
            }
        }
        await client.close()
    }

    // MARK: - Catch-up after downtime

    /// Every replica was down for ten minutes (the schedules' next fire is ten minutes back):
    /// a worker process starting up fires, per policy, none of the missed instants older than
    /// the 1-minute grace ('none'), only the newest ('latest'), or every one up to catch_up_max
    /// ('all', 5: the newest five).
    func testCatchUpPoliciesWhenAWorkerStartsAfterDowntime() async throws {
        let binary = try TestEnvironment.rotaBinary()
        let url = try await TestEnvironment.freshDatabase("rota_test_sched_catchup")
        let client = RotaClient(connectionString: url, connectTimeout: .seconds(5))
        let queue = "sched_catchup"
        try await client.defineQueue(queue)
        let policies: [(name: String, policy: String, max: Int)] = [
            ("missed-none", "none", 100), ("missed-latest", "latest", 100), ("missed-all", "all", 5),
        ]
        for schedule in policies {
            try await client.query(
                "SELECT rota.define_schedule($1, '* * * * *', $2, 'noop', catch_up => $3, catch_up_max => $4::int)",
                [schedule.name, queue, schedule.policy, schedule.max])
        }

        // Everything below must happen within one minute of the database clock, or a new
        // on-time fire would join the catch-up: start early in a minute.
        let second = try await client.query("SELECT extract(second FROM clock_timestamp())::float8 AS s")[0].decode("s", as: Double.self)
        if second > 40 {
            try await Task.sleep(for: .milliseconds(Int64((60.5 - second) * 1000)))
        }
        // Ten minutes of downtime: the persisted next fires are ten minutes back.
        let downFrom = try await client.query("""
            UPDATE rota.schedules SET next_fire_at = date_trunc('minute', clock_timestamp()) - interval '10 minutes'
            WHERE queue = $1 RETURNING next_fire_at
            """, [queue]).map { try $0.decode("next_fire_at", as: Date.self) }
        XCTAssertEqual(downFrom.count, 3)
        let missedFrom = try XCTUnwrap(downFrom.first)

        let worker = try WorkerProcess(binary: binary, url: url, queue: queue, concurrency: 4, executorID: "catchup-0")
        let took = try await waitUntil("the worker fired the three schedules and their tasks succeeded", timeout: .seconds(30)) {
            let behind = try await self.count(client,
                "SELECT count(*) FROM rota.schedules WHERE queue = $1 AND next_fire_at <= clock_timestamp()", [queue])
            let open = try await self.count(client, "SELECT count(*) FROM rota.tasks WHERE queue = $1 AND state <> 'succeeded'", [queue])
            return behind == 0 && open == 0
        }
        print("a worker starting after 10 minutes of downtime caught up in \(took)")
        // Freeze the outcome (the next on-time fire would otherwise come at the next minute).
        let sameMinute = try await client.query("""
            WITH paused AS (SELECT rota.pause_schedule(name) FROM rota.schedules WHERE queue = $1)
            SELECT (SELECT count(*) FROM paused)::int AS n,
                   bool_and(date_trunc('minute', f.fired_at) = date_trunc('minute', clock_timestamp())) AS same
            FROM rota.schedule_fires f JOIN rota.schedules s ON s.name = f.schedule WHERE s.queue = $1
            """, [queue])[0]
        XCTAssertEqual(try sameMinute.decode("n", as: Int.self), 3)
        XCTAssertEqual(try sameMinute.decode("same", as: Bool?.self), true,
                       "the catch-up and the pause fell in one minute (otherwise an on-time fire may have joined)")

        for schedule in policies {
            let state = try await client.query(
                "SELECT next_fire_at, last_fire_at FROM rota.schedules WHERE name = $1", [schedule.name])[0]
            let next = try state.decode("next_fire_at", as: Date.self)
            // The newest missed instant: the minute before the next fire.
            let newest = next.addingTimeInterval(-60)
            let missedCount = Int(newest.timeIntervalSince(missedFrom) / 60) + 1
            XCTAssertGreaterThanOrEqual(missedCount, 11, "instants from ten minutes back through the current minute")
            let fires = try await client.query("""
                SELECT f.fire_at, f.executor, f.manual, k.key, k.state
                FROM rota.schedule_fires f LEFT JOIN rota.tasks k ON k.id = f.task_id
                WHERE f.schedule = $1 ORDER BY f.fire_at
                """, [schedule.name])
            let fired = try fires.map { try $0.decode("fire_at", as: Date.self) }
            let expected: [Date]
            switch schedule.policy {
            case "none", "latest":
                // 'none': only the current minute's instant is within the 1-minute grace.
                expected = [newest]
            default:
                expected = (0..<min(schedule.max, missedCount)).reversed().map { newest.addingTimeInterval(-60 * Double($0)) }
            }
            let iso = ISO8601DateFormatter()
            print("catch_up \(schedule.policy) (max \(schedule.max)): \(missedCount - 1) instants missed from "
                  + "\(iso.string(from: missedFrom)) plus the current minute's; fired \(fired.map { iso.string(from: $0) })")
            XCTAssertEqual(fired, expected, "catch_up \(schedule.policy)")
            XCTAssertEqual(try state.decode("last_fire_at", as: Date?.self), newest)
            for row in fires {
                let at = try row.decode("fire_at", as: Date.self)
                XCTAssertEqual(try row.decode("executor", as: String?.self), "catchup-0")
                XCTAssertEqual(try row.decode("manual", as: Bool.self), false)
                XCTAssertEqual(try row.decode("key", as: String?.self), "schedule:\(schedule.name):\(iso.string(from: at))")
                XCTAssertEqual(try row.decode("state", as: String?.self), "succeeded")
            }
        }
        let tasks = try await count(client, "SELECT count(*) FROM rota.tasks WHERE queue = $1", [queue])
        XCTAssertEqual(tasks, 1 + 1 + 5)

        worker.signal(SIGTERM)
        let status = try await worker.waitForExit(timeout: .seconds(20))
        XCTAssertEqual(status, 0, "worker log:\n\(worker.log)")
        await client.close()
    }

    // MARK: - In-process worker: wake-up and scheduled time

    /// With no schedules the ticker sleeps (up to 30 s); defining one notifies
    /// `rota_schedules`, which wakes it in time for the very first instant.
    func testDefiningAScheduleWakesTheSleepingTicker() async throws {
        let url = try await TestEnvironment.freshDatabase("rota_test_sched_wake")
        let client = RotaClient(connectionString: url)
        let queue = "sched_wake", schedule = "wake-up"
        try await client.defineQueue(queue)
        var handlers = RotaHandlers()
        handlers.register("noop") { (_: EmptyPayload, _) in }
        // The ticker shares its connection with reap and prune: without tasks, reap would run
        // every poll interval (200 ms) and replace the ticker's statement as the connection's
        // last one, which the wait below looks for.
        try await withWorker(url: url, queues: [queue: 2], handlers: handlers,
                             configure: { $0.reapInterval = .seconds(600) }) { _, _ in
            // The ticker found nothing to fire after its listener connected: it now waits for a
            // notification or its 30 s timeout. (Its last statement, the next-fire query, began
            // after the listener's LISTEN.)
            try await waitUntil("the ticker sleeps with its listener connected", timeout: .seconds(20)) {
                try await self.count(client, """
                    SELECT count(*) FROM pg_stat_activity l, pg_stat_activity m
                    WHERE l.datname = current_database() AND m.datname = current_database()
                      AND l.state = 'idle' AND l.query LIKE 'LISTEN %rota_schedules%'
                      AND m.state = 'idle' AND m.query LIKE '%next_fire_at%' AND m.query NOT LIKE '%pg_stat_activity%'
                      AND m.query_start > l.state_change
                    """) >= 1
            }
            try await client.query("SELECT rota.define_schedule($1, '* * * * * *', $2, 'noop')", [schedule, queue])
            let first = try await client.query(
                "SELECT rota.cron_next(cron, created_at, timezone) AS first FROM rota.schedules WHERE name = $1",
                [schedule])[0].decode("first", as: Date.self)
            try await waitUntil("the first instant fired", timeout: .seconds(10), every: .milliseconds(10)) {
                try await self.count(client, "SELECT count(*) FROM rota.schedule_fires WHERE schedule = $1", [schedule]) >= 1
            }
            let fire = try await client.query("""
                SELECT fire_at, extract(epoch FROM fired_at - fire_at)::float8 AS lag
                FROM rota.schedule_fires WHERE schedule = $1 ORDER BY fire_at LIMIT 1
                """, [schedule])[0]
            let lag = try fire.decode("lag", as: Double.self)
            print("ticker woken by NOTIFY: the first instant fired \(Int(lag * 1000)) ms after it was due")
            XCTAssertEqual(try fire.decode("fire_at", as: Date.self), first, "the first instant after the definition fired")
            XCTAssertLessThan(lag, 1.0)
            try await client.query("SELECT rota.drop_schedule($1)", [schedule])
        }
        await client.close()
    }

    struct SchedulePayload: Codable, Sendable {
        var schedule: String
        var scheduled_at: String
    }

    struct SeenFire: Sendable {
        var taskID: Int64
        var scheduledAt: Date?
        var handlerStartedAt: Date
        var key: String?
        var payload: SchedulePayload
    }

    /// A handler of a scheduled task gets the fire instant as `context.scheduledAt` (also for
    /// a manual fire with milliseconds and a schedule name containing colons), and the task
    /// starts at or after it.
    func testHandlerReceivesTheScheduledTime() async throws {
        let url = try await TestEnvironment.freshDatabase("rota_test_sched_context")
        let client = RotaClient(connectionString: url)
        let queue = "sched_ctx", schedule = "report:ctx.1"
        try await client.defineQueue(queue)
        let seen = Recorder<SeenFire>()
        var handlers = RotaHandlers()
        handlers.register("record") { (payload: SchedulePayload, context) in
            seen.append(SeenFire(taskID: context.taskID, scheduledAt: context.scheduledAt,
                                 handlerStartedAt: context.startedAt, key: context.key, payload: payload))
        }
        try await withWorker(url: url, queues: [queue: 2], handlers: handlers) { _, _ in
            try await client.query("SELECT rota.define_schedule($1, '* * * * * *', $2, 'record')", [schedule, queue])
            try await waitUntil("a cron fire ran its handler", timeout: .seconds(10)) { seen.count >= 1 }
            try await client.query("SELECT rota.pause_schedule($1)", [schedule])
            let manual = try await client.query("SELECT rota.trigger_schedule($1) AS id", [schedule])[0].decode("id", as: Int64.self)
            try await waitUntil("the manual fire ran its handler", timeout: .seconds(10)) { seen.all.contains { $0.taskID == manual } }
            try await waitUntil("every handled task succeeded") {
                try await self.count(client, "SELECT count(*) FROM rota.tasks WHERE queue = $1 AND state <> 'succeeded'", [queue]) == 0
            }
        }
        var sawManual = false
        for fire in seen.all {
            let row = try await client.query("""
                SELECT f.fire_at, f.manual, k.started_at, rota._iso_utc(f.fire_at) AS iso
                FROM rota.schedule_fires f JOIN rota.tasks k ON k.id = f.task_id WHERE f.task_id = $1::bigint
                """, [fire.taskID])[0]
            let fireAt = try row.decode("fire_at", as: Date.self)
            let startedAt = try row.decode("started_at", as: Date.self)
            let manual = try row.decode("manual", as: Bool.self)
            sawManual = sawManual || manual
            let scheduledAt = try XCTUnwrap(fire.scheduledAt, "scheduledAt of task \(fire.taskID) (key \(fire.key ?? "nil"))")
            XCTAssertEqual(scheduledAt.timeIntervalSince1970, fireAt.timeIntervalSince1970, accuracy: 0.0005,
                           "scheduledAt is the fire instant (manual: \(manual))")
            XCTAssertGreaterThanOrEqual(startedAt, fireAt, "the task started at or after its scheduled time")
            // one host clock for both, so only rounding of the stored instant is tolerated
            XCTAssertGreaterThanOrEqual(fire.handlerStartedAt.timeIntervalSince1970 + 0.001, fireAt.timeIntervalSince1970,
                                        "the handler's start time is at or after the scheduled time")
            XCTAssertEqual(fire.payload.schedule, schedule)
            XCTAssertEqual(fire.payload.scheduled_at, try row.decode("iso", as: String.self))
            print("scheduled task \(fire.taskID)\(manual ? " (manual)" : ""): scheduledAt \(fire.payload.scheduled_at), "
                  + "started \(Int(startedAt.timeIntervalSince(fireAt) * 1000)) ms later")
        }
        XCTAssertTrue(sawManual)
        await client.close()
    }
}
