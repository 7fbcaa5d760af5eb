import Foundation
import Rota
import RotaTestSupport
import XCTest

/// Each alert of rota.alerts provoked for real with worker processes, seen to appear and
/// to clear. One database whose queues all have short leases, so that a killed executor
/// counts as dead within seconds (alive = a heartbeat within twice the longest lease).
final class AlertTests: XCTestCase {
    static let database = "rota_test_obs_alerts"
    var url = ""
    var client: RotaClient!

    override func setUp() async throws {
        url = try await TestEnvironment.freshDatabase(Self.database)
        client = RotaClient(connectionString: url, logger: quietLogger("test"))
    }

    override func tearDown() async throws {
        await client.close()
        await TestEnvironment.dropDatabase(Self.database)
    }

    func define(_ sql: String) async throws { _ = try await client.query(sql) }

    func testQueueStuckWhenEveryWorkerOfTheQueueStops() async throws {
        try await define("SELECT rota.define_queue('stuck', lease => '2 seconds', alert_stuck_after => '1 second')")
        var worker = try WorkerProcess(url: url, queues: "stuck", executorID: "stuck-1")
        _ = try await client.enqueue(queue: "stuck", task: "noop")
        try await waitUntil("the worker runs the first task") {
            try await client.count("SELECT count(*) FROM rota.tasks WHERE state = 'succeeded'") == 1
        }
        try await worker.stop()
        _ = try await client.enqueue(queue: "stuck", task: "noop")
        try await waitUntil("queue_stuck appears") { try await client.alertKeys().contains("queue_stuck:stuck") }
        let alert = try await client.alerts().first { $0.alert == "queue_stuck" }
        XCTAssertTrue(alert?.message.contains("no alive executor serves it") ?? false, "\(String(describing: alert))")
        let metrics = try await client.metrics()
        XCTAssertTrue(metrics.contains(#"rota_alert{alert="queue_stuck",queue="stuck"} 1"#), metrics)
        worker = try WorkerProcess(url: url, queues: "stuck", executorID: "stuck-2")
        try await waitUntil("queue_stuck clears once a worker is back") { try await !client.alertKeys().contains("queue_stuck:stuck") }
        try await worker.stop()
    }

    func testRetryStormAndDeadLettersFromAHandlerThatAlwaysFails() async throws {
        try await define("""
            SELECT rota.define_queue('storm', lease => '2 seconds', max_attempts => 2, backoff_base => '10 milliseconds',
                                     backoff_max => '10 milliseconds', alert_dead_per_hour => 5)
            """)
        let worker = try WorkerProcess(url: url, queues: "storm", executorID: "storm-1")
        _ = try await client.enqueueMany(queue: "storm", task: "fail",
                                         payloadsJSON: Array(repeating: PostgresJSON(text: #"{"times": 1000}"#), count: 5))
        try await waitUntil("retry_storm and dead_letter_growth appear") {
            let keys = try await client.alertKeys()
            return keys.contains("retry_storm:storm") && keys.contains("dead_letter_growth:storm")
        }
        // the handler is fixed: successes bring the failed share under the threshold
        _ = try await client.enqueueMany(queue: "storm", task: "noop", payloadsJSON: Array(repeating: PostgresJSON(text: "{}"), count: 15))
        try await waitUntil("retry_storm clears") { try await !client.alertKeys().contains("retry_storm:storm") }
        try await worker.stop()
    }

    func testScheduleLateWhileAllWorkersAreDown() async throws {
        try await define("SELECT rota.define_queue('ticks', lease => '2 seconds')")
        try await define("SELECT rota.define_schedule('every-second', '* * * * * *', 'ticks', 'noop', alert_late_after => '1 second')")
        try await waitUntil("schedule_late appears with no worker running") {
            try await client.alertKeys().contains("schedule_late:every-second")
        }
        let worker = try WorkerProcess(url: url, queues: "ticks", executorID: "ticks-1")
        try await waitUntil("schedule_late clears once a worker fires it") {
            try await !client.alertKeys().contains("schedule_late:every-second")
        }
        let fires = try await client.count("SELECT count(*) FROM rota.schedule_fires")
        XCTAssertGreaterThan(fires, 0)
        try await worker.stop()
    }

    func testDeadExecutorTasksWhenAKilledWorkerIsNotReaped() async throws {
        try await define("SELECT rota.define_queue('doomed', lease => '1 second', alert_unreaped_after => '0 seconds')")
        // the reaper paused (every hour), so nobody recovers the killed worker's tasks
        let worker = try WorkerProcess(url: url, queues: "doomed", executorID: "doomed-1",
                                       extra: ["--reap", "3600", "--heartbeat", "0.2"])
        _ = try await client.enqueueMany(queue: "doomed", task: "sleep",
                                         payloadsJSON: Array(repeating: PostgresJSON(text: #"{"ms": 60000}"#), count: 2))
        try await waitUntil("the worker holds both tasks") {
            try await client.count("SELECT count(*) FROM rota.tasks WHERE state = 'running'") == 2
        }
        worker.child.signal(SIGKILL)
        try await waitUntil("dead_executor_tasks appears") { try await client.alertKeys().contains("dead_executor_tasks:doomed-1") }
        let alert = try await client.alerts().first { $0.alert == "dead_executor_tasks" }
        XCTAssertEqual(alert?.value, 2)
        let metrics = try await client.metrics()
        XCTAssertTrue(metrics.contains(#"rota_queue_tasks_held_by_dead_executors{queue="doomed"} 2"#), metrics)
        let reaped = try await client.count("SELECT rota.reap()")
        XCTAssertEqual(reaped, 2)
        let after = try await client.alertKeys()
        XCTAssertFalse(after.contains("dead_executor_tasks:doomed-1"), "cleared once reaped: \(after)")
    }
}
