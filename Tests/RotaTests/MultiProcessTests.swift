import Foundation
import Rota
import RotaChildProcess
import RotaTestSupport
import XCTest

/// `rota worker` OS processes against one database: SIGKILL of a worker and a database
/// restart while tasks are in flight.
final class MultiProcessTests: XCTestCase {
    /// A `rota worker` child process.
    final class WorkerProcess {
        let child: ChildProcess
        let executorID: String

        init(binary: String, url: String, queue: String, concurrency: Int, executorID: String, extra: [String] = []) throws {
            self.executorID = executorID
            child = try ChildProcess([binary, "worker", "--database-url", url, "--queues", queue,
                                      "--concurrency", "\(concurrency)", "--executor-id", executorID,
                                      "--log-level", "warning"] + extra)
        }

        func signal(_ signal: Int32) { child.signal(signal) }
        func waitForExit(timeout: Duration) async throws -> Int32? { try await child.waitForExit(timeout: timeout) }
        var isRunning: Bool { child.isRunning }
        var log: String { child.output }
    }

    /// The most intervals [start, end) open at one instant.
    static func maxOverlap(_ intervals: [(Double, Double)]) -> Int {
        // Ends sort before starts at the same instant: touching intervals do not overlap.
        var events: [(time: Double, delta: Int)] = []
        for interval in intervals {
            events.append((interval.0, 1))
            events.append((interval.1, -1))
        }
        events.sort { a, b in a.time == b.time ? a.delta < b.delta : a.time < b.time }
        var current = 0, most = 0
        for event in events {
            current += event.delta
            most = max(most, current)
        }
        return most
    }

    func testThreeProcessesWithGlobalConcurrencyFourSurviveSIGKILL() async throws {
        let binary = try TestEnvironment.rotaBinary()
        let url = try await TestEnvironment.freshDatabase("rota_test_swift_multiprocess")
        let client = RotaClient(connectionString: url)
        let lease: Duration = .seconds(2)
        let heartbeat: Duration = lease / 3  // the worker's default
        try await client.defineQueue("mp", options: QueueOptions(concurrency: 4, maxAttempts: 10, lease: lease,
                                                                 backoffBase: .milliseconds(100), backoffMax: .seconds(1)))
        let taskCount = 2000
        let payloads = Array(repeating: PostgresJSON(text: #"{"ms": 5}"#), count: taskCount)
        let ids = try await client.enqueueMany(queue: "mp", task: "sleep", payloadsJSON: payloads)
        XCTAssertEqual(ids.count, taskCount)

        let clock = ContinuousClock()
        let started = clock.now
        var workers: [WorkerProcess] = []
        for index in 0..<3 {
            workers.append(try WorkerProcess(binary: binary, url: url, queue: "mp", concurrency: 4, executorID: "mp-\(index)"))
        }
        func count(_ sql: String, _ parameters: [any PostgresBindable] = []) async throws -> Int {
            try await client.query(sql, parameters)[0].decode(at: 0, as: Int.self)
        }

        // After a fair share of the work, SIGKILL a worker while it holds running tasks. (With a
        // global limit of 4, the worker that completes a task re-claims its slot at once, so
        // one worker may hold all slots; the victim is whichever holds some right now.)
        var victimID = ""
        try await waitUntil("a worker runs tasks after 300 successes", timeout: .seconds(60), every: .milliseconds(5)) {
            let done = try await count("SELECT count(*) FROM rota.tasks WHERE queue = 'mp' AND state = 'succeeded'")
            guard done >= 300 else { return false }
            let holder = try await client.query(
                "SELECT executor FROM rota.tasks WHERE queue = 'mp' AND state = 'running' GROUP BY executor ORDER BY count(*) DESC LIMIT 1")
            guard let executor = try holder.first?.decode("executor", as: String.self) else { return false }
            victimID = executor
            return true
        }
        let victim = try XCTUnwrap(workers.first { $0.executorID == victimID })
        victim.signal(SIGKILL)
        let killedAt = clock.now
        // Only once it is gone: a completion it sent just before the signal may still commit.
        _ = try await victim.waitForExit(timeout: .seconds(5))
        let orphaned = try await client.query(
            "SELECT id FROM rota.tasks WHERE executor = $1 AND state = 'running'", [victimID]).map { try $0.decode(at: 0, as: Int64.self) }
        print("SIGKILLed worker \(victimID) holding \(orphaned.count) running task(s) \(killedAt - started) into the run")

        var recovery: Duration = .zero
        if !orphaned.isEmpty {
            recovery = try await waitUntil("the killed worker's tasks were recovered", timeout: .seconds(30), every: .milliseconds(10)) {
                try await count("SELECT count(*) FROM rota.tasks WHERE id = ANY($1::bigint[]) AND executor = $2 AND state = 'running'",
                                [orphaned, victimID]) == 0
            }
            print("recovery of the killed worker's tasks: \(recovery) (lease \(lease) + heartbeat interval \(heartbeat))")
            // The lease runs out at most `lease` after the last heartbeat, which was at most a
            // heartbeat interval before the kill; a reaper runs every heartbeat interval. So
            // recovery takes at most lease + heartbeat interval (+ scheduling slack).
            XCTAssertLessThanOrEqual(recovery, lease + heartbeat + .milliseconds(500))
        }

        try await waitUntil("all \(taskCount) tasks succeeded", timeout: .seconds(180), every: .milliseconds(50)) {
            try await count("SELECT count(*) FROM rota.tasks WHERE queue = 'mp' AND state = 'succeeded'") == taskCount
        }
        let wall = clock.now - started
        print("\(taskCount) sleep(5 ms) tasks, 3 worker processes (one SIGKILLed), global concurrency 4: wall time \(wall)")

        let unfinished = try await count("SELECT count(*) FROM rota.tasks WHERE queue = 'mp' AND state <> 'succeeded'")
        XCTAssertEqual(unfinished, 0)
        // Tasks the killed worker held ran again, on a live worker, under a new attempt.
        if !orphaned.isEmpty {
            let rerun = try await count(
                "SELECT count(*) FROM rota.tasks WHERE id = ANY($1::bigint[]) AND executor <> $2 AND attempts >= 2", [orphaned, victimID])
            XCTAssertEqual(rerun, orphaned.count)
        }

        // At most 4 at any instant: the final attempts' started_at/finished_at from the database…
        let rows = try await client.query("""
            SELECT extract(epoch FROM started_at)::float8 AS s, extract(epoch FROM finished_at)::float8 AS f,
                   (result->>'started')::float8 AS hs, (result->>'finished')::float8 AS hf
            FROM rota.tasks WHERE queue = 'mp'
            """)
        let databaseIntervals = try rows.map { (try $0.decode("s", as: Double.self), try $0.decode("f", as: Double.self)) }
        let handlerIntervals = try rows.map { (try $0.decode("hs", as: Double.self), try $0.decode("hf", as: Double.self)) }
        // started_at is taken when the claim holds the slot (clock_timestamp()), finished_at
        // before the completion commits and frees it, so the database intervals are exact.
        let databaseOverlap = Self.maxOverlap(databaseIntervals)
        let handlerOverlap = Self.maxOverlap(handlerIntervals)
        print("most tasks running at once: \(databaseOverlap) by started_at/finished_at, "
              + "\(handlerOverlap) by the handlers' own clocks")
        XCTAssertLessThanOrEqual(databaseOverlap, 4)
        XCTAssertLessThanOrEqual(handlerOverlap, 4)
        let perExecutor = try await client.query(
            "SELECT executor, count(*) AS n FROM rota.tasks WHERE queue = 'mp' GROUP BY executor ORDER BY executor")
        print("tasks per executor: " + (try perExecutor.map { "\(try $0.decode("executor", as: String.self))=\(try $0.decode("n", as: Int.self))" }.joined(separator: " ")))

        // The survivors shut down gracefully on SIGTERM.
        let survivors = workers.filter { $0.executorID != victimID }
        for worker in survivors { worker.signal(SIGTERM) }
        for worker in survivors {
            let status = try await worker.waitForExit(timeout: .seconds(20))
            XCTAssertEqual(status, 0, "worker \(worker.executorID) exit status; log:\n\(worker.log)")
        }
        let stopped = try await client.executorStatus().filter { $0.stopped }.map(\.executor).sorted()
        XCTAssertEqual(stopped, survivors.map(\.executorID).sorted())
        await client.close()
    }

    func testDatabaseRestartMidRunLosesNothing() async throws {
        let binary = try TestEnvironment.rotaBinary()
        let server = try await TestEnvironment.serverURL()
        let local = try await TestEnvironment.runCommand([TestEnvironment.repositoryRoot.appendingPathComponent("scripts/db.sh").path, "url"])
        func port(_ url: String) -> Int? { URLComponents(string: url)?.port }
        let localURL = local.output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard local.status == 0, let localPort = port(localURL), port(server) == localPort,
              URLComponents(string: server)?.host == URLComponents(string: localURL)?.host else {
            throw XCTSkip("DATABASE_URL does not point at the project-local cluster, which this test restarts")
        }
        let url = try await TestEnvironment.freshDatabase("rota_test_swift_restart")
        let client = RotaClient(connectionString: url, connectTimeout: .seconds(5))
        try await client.defineQueue("rs", options: QueueOptions(lease: .seconds(10), backoffBase: .milliseconds(100),
                                                                 backoffMax: .seconds(1)))
        let taskCount = 400
        let ids = try await client.enqueueMany(queue: "rs", task: "sleep",
                                               payloadsJSON: Array(repeating: PostgresJSON(text: #"{"ms": 20}"#), count: taskCount))
        XCTAssertEqual(ids.count, taskCount)
        let workers = try (0..<2).map {
            try WorkerProcess(binary: binary, url: url, queue: "rs", concurrency: 5, executorID: "rs-\($0)")
        }
        func succeeded() async throws -> Int {
            try await client.query("SELECT count(*) FROM rota.tasks WHERE queue = 'rs' AND state = 'succeeded'")[0].decode(at: 0, as: Int.self)
        }
        try await waitUntil("some tasks succeeded", timeout: .seconds(30)) { try await succeeded() >= 60 }
        let clock = ContinuousClock()
        let restartStarted = clock.now
        let restart = try await TestEnvironment.runCommand([TestEnvironment.repositoryRoot.appendingPathComponent("scripts/db.sh").path, "restart"])
        XCTAssertEqual(restart.status, 0, restart.output)
        print("database restarted in \(clock.now - restartStarted)")
        for worker in workers { XCTAssertTrue(worker.isRunning, "worker \(worker.executorID) survived the restart") }
        let after = try await waitUntil("all \(taskCount) tasks succeeded after the restart", timeout: .seconds(90), every: .milliseconds(100)) {
            try await succeeded() == taskCount
        }
        print("all tasks done \(after) after the restart")
        let notSucceeded = try await client.query("SELECT count(*) FROM rota.tasks WHERE queue = 'rs' AND state <> 'succeeded'")[0]
            .decode(at: 0, as: Int.self)
        XCTAssertEqual(notSucceeded, 0)
        for worker in workers { worker.signal(SIGTERM) }
        for worker in workers {
            let status = try await worker.waitForExit(timeout: .seconds(20))
            XCTAssertEqual(status, 0, "worker \(worker.executorID) exit status; log:\n\(worker.log)")
            // The restart really cut the workers off: each one saw its listener connection drop.
            XCTAssertTrue(worker.log.contains("listener connection lost"), "worker \(worker.executorID) log:\n\(worker.log)")
        }
        await client.close()
    }
}
