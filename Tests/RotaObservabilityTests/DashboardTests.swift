import Foundation
import Logging
import Rota
import RotaObservability
import RotaTestSupport
import Synchronization
import XCTest

/// Every page of `rota dashboard` over HTTP against a database that real worker processes
/// populated; headless Chromium screenshots of each page; `rota check`.
final class DashboardTests: XCTestCase {
    static let database = "rota_test_obs_dashboard"

    /// Queues with work done by a real worker: successes, a task that keeps failing, a
    /// schedule that fired, a task with steps, a key that must be escaped, and a queue
    /// nobody serves (an alert).
    func populate(_ url: String, _ client: RotaClient) async throws -> Int64 {
        try await client.defineQueue("web")
        try await client.defineQueue("mail", options: QueueOptions(concurrency: 4, maxAttempts: 2))
        _ = try await client.query("SELECT rota.define_queue('orphans', alert_stuck_after => '1 second')")
        try await client.defineSchedule("heartbeat-report", cron: "* * * * * *", queue: "web", task: "noop")
        _ = try await client.enqueueMany(queue: "web", task: "noop", payloadsJSON: Array(repeating: PostgresJSON(text: "{}"), count: 30))
        _ = try await client.enqueueMany(queue: "mail", task: "fail",
                                         payloadsJSON: Array(repeating: PostgresJSON(text: #"{"times": 5}"#), count: 3))
        let escaped = try await client.enqueue(queue: "orphans", task: "noop",
                                               payloadJSON: PostgresJSON(text: #"{"note": "<b>bold</b> & \"quoted\""}"#),
                                               options: EnqueueOptions(key: "<script>alert(1)</script>"))
        let worker = try WorkerProcess(url: url, queues: "web,mail", executorID: "dash-worker")
        try await waitUntil("the worker did the work and the schedule fired") {
            let failed = try await client.count("SELECT count(*) FROM rota.tasks WHERE queue = 'mail' AND state = 'failed'")
            let succeeded = try await client.count("SELECT count(*) FROM rota.tasks WHERE queue = 'web' AND state = 'succeeded'")
            return failed == 3 && succeeded >= 31
        }
        try await worker.stop()
        // a step checkpoint on the escaped task, as a workflow records them
        _ = try await client.query("""
            WITH c AS (SELECT * FROM rota.claim('dash-steps', ARRAY['orphans'], 1))
            SELECT rota.record_step(c.id, c.attempt, 'fetch-page', '{"html": "<i>42</i>"}', c.lease_token) FROM c
            """)
        return escaped
    }

    func testEveryPageRendersEscapedAndScreenshots() async throws {
        let url = try await TestEnvironment.freshDatabase(Self.database)
        let client = RotaClient(connectionString: url, logger: quietLogger("test"))
        _ = try await client.query("SELECT rota.register_executor('dash-steps')")
        let escapedTask = try await populate(url, client)
        _ = try await client.query("SELECT rota.stop_executor('dash-steps')")
        try await waitUntil("the unserved queue raises queue_stuck") {
            try await client.alertKeys().contains("queue_stuck:orphans")
        }

        let dashboardClient = RotaClient(connectionString: url, logger: quietLogger("dashboard"))
        let port = Mutex<Int?>(nil)
        let dashboard = RotaDashboard(port: 0, client: dashboardClient, refreshSeconds: 5, logger: quietLogger("dashboard"),
                                      onListening: { bound in port.withLock { $0 = bound } })
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await dashboard.run() }
            try await waitUntil("the dashboard listens") { port.withLock { $0 } != nil }
            let bound = port.withLock { $0 }!

            let pages: [(path: String, name: String, expected: [String])] = [
                ("/", "overview", ["Overview", "Active alerts", "queue_stuck", "orphans", "Executors alive"]),
                ("/queues", "queues", ["Throughput, last hour", "<svg class=\"spark ok\"", "web", "mail", "0 / 4"]),
                ("/schedules", "schedules", ["heartbeat-report", "every second", "Recent fires of heartbeat-report", "succeeded"]),
                ("/failures", "failures", ["mail", "fail", "dash-worker", "(final)"]),
                ("/failures?queue=mail&task=fail&executor=dash-worker", "failures-filtered", ["mail", "(final)"]),
                ("/executors", "executors", ["dash-worker", "stopped", "Last heartbeat"]),
                ("/tasks/\(escapedTask)", "task", ["Payload", "&lt;script&gt;alert(1)&lt;/script&gt;",
                                                   "&lt;b&gt;bold&lt;/b&gt;", "fetch-page", "&lt;i&gt;42&lt;/i&gt;", "Steps"]),
            ]
            for page in pages {
                let response = try await httpGet(bound, page.path)
                XCTAssertEqual(response.status, 200, page.path)
                for text in page.expected {
                    XCTAssertTrue(response.body.contains(text), "\(page.path) lacks \(text)")
                }
                XCTAssertFalse(response.body.contains("<script>"), "\(page.path) echoes markup unescaped")
                XCTAssertTrue(response.body.contains("<meta http-equiv=\"refresh\" content=\"5\">"), page.path)
            }
            let filtered = try await httpGet(bound, "/failures?queue=web")
            XCTAssertTrue(filtered.body.contains("No failed attempts."), "the queue filter keeps only that queue's failures")
            let missing = try await httpGet(bound, "/tasks/999999999")
            XCTAssertEqual(missing.status, 404)
            let notANumber = try await httpGet(bound, "/tasks/abc")
            XCTAssertEqual(notANumber.status, 400)
            let css = try await httpGet(bound, "/assets/style.css")
            XCTAssertEqual(css.status, 200)
            XCTAssertTrue(css.body.contains(".spark"))
            let metrics = try await httpGet(bound, "/metrics")
            XCTAssertTrue(metrics.body.contains(#"rota_alert{alert="queue_stuck",queue="orphans"} 1"#), metrics.body)

            try await screenshots(port: bound, pages: pages)
            group.cancelAll()
        }

        // rota check: one line per alert and exit 1; --json too
        let binary = try TestEnvironment.rotaBinary()
        let check = try await TestEnvironment.runCommand([binary, "check", "--database-url", url])
        XCTAssertEqual(check.status, 1, check.output)
        XCTAssertTrue(check.output.contains("queue_stuck: queue orphans: ready work has waited"), check.output)
        let json = try await TestEnvironment.runCommand([binary, "check", "--json", "--database-url", url])
        XCTAssertEqual(json.status, 1)
        XCTAssertTrue(json.output.contains(#""alert" : "queue_stuck""#) || json.output.contains(#""alert":"queue_stuck""#), json.output)
        _ = try await client.query("SELECT rota.cancel(id) FROM rota.tasks WHERE queue = 'orphans' AND state = 'queued'")
        _ = try await client.query("SELECT rota.pause_schedule('heartbeat-report')")
        _ = try await client.query("SELECT rota.define_queue('mail', concurrency => 4, max_attempts => 2, alert_failure_ratio => 1)")
        let calm = try await TestEnvironment.runCommand([binary, "check", "--database-url", url])
        XCTAssertEqual(calm.status, 0, calm.output)
        XCTAssertTrue(calm.output.contains("ok: no alerts"), calm.output)

        await dashboardClient.close()
        await client.close()
        await TestEnvironment.dropDatabase(Self.database)
    }

    /// Headless Chromium at 1280×800: a PNG per page in $ROTA_SCREENSHOTS (default
    /// .build/screenshots), and the rendered DOM checked for the page's expected text.
    func screenshots(port: Int, pages: [(path: String, name: String, expected: [String])]) async throws {
        let chromium = try requireProgram("chromium")
        let folder = URL(fileURLWithPath: TestEnvironment.environment["ROTA_SCREENSHOTS"]
                         ?? TestEnvironment.repositoryRoot.appendingPathComponent(".build/screenshots").path)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("rota-chromium-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: profile) }
        let common = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,800",
                      "--user-data-dir=\(profile.path)", "--no-first-run"]
        for page in pages {
            let target = "http://127.0.0.1:\(port)\(page.path)"
            let png = folder.appendingPathComponent("\(page.name).png")
            try? FileManager.default.removeItem(at: png)
            let shot = try await TestEnvironment.runCommand([chromium] + common + ["--screenshot=\(png.path)", target])
            let data = try Data(contentsOf: png)
            XCTAssertEqual(data.prefix(8), Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]), "\(page.name): \(shot.output)")
            // IHDR width and height, big-endian at bytes 16..<24
            let size = data.count >= 24 ? (data[16..<20].reduce(0) { $0 << 8 | Int($1) }, data[20..<24].reduce(0) { $0 << 8 | Int($1) }) : (0, 0)
            XCTAssertEqual(size.0, 1280, page.name)
            XCTAssertEqual(size.1, 800, page.name)
            let dom = try await TestEnvironment.runCommand([chromium] + common + ["--dump-dom", target])
            for text in page.expected where !text.hasPrefix("<") && !text.contains("&") {
                XCTAssertTrue(dom.output.contains(text), "\(page.name): the rendered page lacks \(text)")
            }
        }
        print("dashboard screenshots (1280x800): \(folder.path)")
    }
}
