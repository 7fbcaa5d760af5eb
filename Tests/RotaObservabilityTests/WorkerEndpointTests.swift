import Foundation
import Rota
import RotaChildProcess
import RotaTestSupport
import XCTest

/// `rota worker --metrics-port`: /healthz, /readyz and /metrics of a real worker process,
/// checked by promtool and scraped by a real Prometheus server; and rota.metrics() checked
/// by promtool.
final class WorkerEndpointTests: XCTestCase {
    func testWorkerEndpointsAreValidAndPrometheusScrapesThem() async throws {
        let url = try await TestEnvironment.freshDatabase("rota_test_obs_worker")
        let client = RotaClient(connectionString: url, logger: quietLogger("test"))
        try await client.defineQueue("obs")
        _ = try await client.enqueueMany(queue: "obs", task: "noop", payloadsJSON: Array(repeating: PostgresJSON(text: "{}"), count: 20))
        _ = try await client.enqueueMany(queue: "obs", task: "fail", payloadsJSON: Array(repeating: PostgresJSON(text: #"{"times": 1}"#), count: 3))

        let port = try freePort()
        let worker = try WorkerProcess(url: url, queues: "obs", executorID: "obs-worker", metricsPort: port)
        try await waitUntil("/readyz says ready") { try await httpGet(port, "/readyz").status == 200 }
        let health = try await httpGet(port, "/healthz")
        XCTAssertEqual(health.status, 200)
        XCTAssertEqual(health.body, "ok\n")
        try await waitUntil("all 23 tasks succeeded") {
            try await client.count("SELECT count(*) FROM rota.tasks WHERE state = 'succeeded'") == 23
        }
        var metrics = ""
        try await waitUntil("/metrics counts the completions") {
            metrics = try await httpGet(port, "/metrics").body
            return metrics.contains(#"rota_worker_tasks_completed_total{task="noop"} 20"#)
                && metrics.contains(#"rota_worker_tasks_completed_total{task="fail"} 3"#)
        }
        XCTAssertTrue(metrics.contains(#"rota_worker_tasks_failed_total{task="fail"} 3"#), metrics)
        for name in ["rota_worker_claims_total", "rota_worker_claim_size_bucket", "rota_worker_handler_duration_seconds_bucket",
                     "rota_worker_tasks_in_flight", "rota_worker_heartbeat_lag_seconds"] {
            XCTAssertTrue(metrics.contains(name), "\(name) missing from /metrics")
        }
        let workerCheck = try await promtoolCheck(metrics)
        XCTAssertEqual(workerCheck.status, 0, "promtool check metrics on the worker's /metrics: \(workerCheck.output)")

        // rota.metrics() in the Prometheus text format, and its OpenMetrics form's shape
        let sqlCheck = try await promtoolCheck(try await client.metrics(prometheusText: true))
        XCTAssertEqual(sqlCheck.status, 0, "promtool check metrics on rota.metrics('prometheus'): \(sqlCheck.output)")
        let openMetrics = try await client.metrics()
        XCTAssertTrue(openMetrics.hasSuffix("# EOF\n"))
        XCTAssertTrue(openMetrics.contains("rota_queue_tasks_succeeded_total{queue=\"obs\"} 23\n"), openMetrics)

        // a real Prometheus server scrapes the worker and answers a query about it
        let prometheus = try requireProgram("prometheus")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rota-prometheus-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = """
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: rota-worker
                static_configs:
                  - targets: ['127.0.0.1:\(port)']
            """
        try config.write(to: directory.appendingPathComponent("prometheus.yml"), atomically: true, encoding: .utf8)
        let prometheusPort = try freePort()
        let server = try ChildProcess([prometheus, "--config.file=\(directory.path)/prometheus.yml",
                                       "--storage.tsdb.path=\(directory.path)/data",
                                       "--web.listen-address=127.0.0.1:\(prometheusPort)"])
        defer { server.signal(SIGKILL) }
        let query = "sum(rota_worker_tasks_completed_total)"
        var answer = ""
        do {
            try await waitUntil("Prometheus answers a query about the scraped worker", timeout: .seconds(60), every: .milliseconds(500)) {
                answer = try await httpGet(prometheusPort, "/api/v1/query?query=\(query)").body
                return answer.contains(#""status":"success""#) && answer.contains(#","23"]"#)
            }
        } catch {
            print("prometheus log:\n\(server.output.suffix(3000))\nlast answer: \(answer)")
            throw error
        }
        let up = try await httpGet(prometheusPort, "/api/v1/query?query=up").body
        XCTAssertTrue(up.contains(#""job":"rota-worker""#) && up.contains(#","1"]"#), up)
        try await server.stop()

        try await worker.stop()
        await client.close()
        await TestEnvironment.dropDatabase("rota_test_obs_worker")
    }

    func testDirectStartsAreCountedApartFromClaims() async throws {
        let url = try await TestEnvironment.freshDatabase("rota_test_obs_direct")
        let client = RotaClient(connectionString: url, logger: quietLogger("test"))
        try await client.defineQueue("obs_direct")
        let port = try freePort()
        // a queue with nothing to claim: the only task is the one started on the worker
        let worker = try WorkerProcess(url: url, queues: "obs_direct", executorID: "obs-direct", metricsPort: port,
                                       extra: ["--start-task", "noop"])
        try await waitUntil("the started task succeeded") {
            try await client.count("SELECT count(*) FROM rota.tasks WHERE queue = 'obs_direct' AND state = 'succeeded'") == 1
        }
        var metrics = ""
        try await waitUntil("/metrics counts the direct start") {
            metrics = try await httpGet(port, "/metrics").body
            return metrics.contains(#"rota_worker_direct_starts_total{queue="obs_direct"} 1"#)
        }
        XCTAssertFalse(metrics.contains(#"rota_worker_claims_total{queue="obs_direct"} 1"#),
                       "a direct start is not a claim statement:\n\(metrics)")
        XCTAssertFalse(metrics.contains(#"rota_worker_claim_size_count{queue="obs_direct"} 1"#),
                       "nor a claim of one task:\n\(metrics)")
        try await worker.stop()
        await client.close()
        await TestEnvironment.dropDatabase("rota_test_obs_direct")
    }

    func testReadyzIsNotReadyWithoutTheDatabase() async throws {
        let port = try freePort()
        // a server that does not exist: alive, never ready
        let worker = try WorkerProcess(url: "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1", queues: "obs",
                                       executorID: "obs-unready", metricsPort: port)
        try await waitUntil("/healthz answers") { try await httpGet(port, "/healthz").status == 200 }
        let ready = try await httpGet(port, "/readyz")
        XCTAssertEqual(ready.status, 503)
        XCTAssertTrue(ready.body.contains("registered=false"), ready.body)
        worker.child.signal(SIGKILL)
    }
}
