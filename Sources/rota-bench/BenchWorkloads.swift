import Foundation
import Logging
import Rota
import RotaChildProcess
import RotaCommandLine

/// The workloads of `rota-bench`. Every time figure of a worker workload is read from the
/// database clock (task rows); client-side rates (W2, pgbench) from the client's clock.
final class BenchWorkloads: @unchecked Sendable {
    let serverURL: String
    let binary: String
    let workDir: String
    let verbose: Bool
    let concurrency: Int
    let queue = "bench"

    init(serverURL: String, binary: String, workDir: String, verbose: Bool, concurrency: Int) {
        self.serverURL = serverURL
        self.binary = binary
        self.workDir = workDir
        self.verbose = verbose
        self.concurrency = concurrency
    }

    func note(_ text: String) {
        FileHandle.standardError.write(Data("bench: \(text)\n".utf8))
    }

    // MARK: - Databases

    /// Drops and creates `name` and installs the schema with the client's migrate().
    func freshDatabase(_ name: String, schema: Bool = true) async throws -> String {
        let admin = try await PostgresConnection.connect(serverURL)
        do {
            try await admin.executeScript("SET client_min_messages = warning")
            try await admin.executeScript("DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)")
            try await admin.executeScript("CREATE DATABASE \"\(name)\"")
        } catch {
            await admin.close()
            throw error
        }
        await admin.close()
        let databaseURL = ConnectionString.replacingDatabase(in: serverURL, with: name)
        if schema {
            var logger = Logger(label: "rota.bench")
            logger.logLevel = .warning
            let client = RotaClient(connectionString: databaseURL, logger: logger)
            try await client.migrate()
            try await client.defineQueue(queue)
            await client.close()
        }
        return databaseURL
    }

    func dropDatabase(_ name: String) async {
        guard let admin = try? await PostgresConnection.connect(serverURL) else { return }
        try? await admin.executeScript("SET client_min_messages = warning")
        try? await admin.executeScript("DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)")
        await admin.close()
    }

    // MARK: - Baseline

    struct PgbenchResult { var tps4: Double; var tps1: Double }

    /// `pgbench -i -s 10` once, in its own database.
    func preparePgbench() async throws -> String {
        let databaseURL = try await freshDatabase("rota_bench_pgbench", schema: false)
        note("pgbench -i -s 10 ...")
        _ = try await runPgbench(["-i", "-q", "-s", "10", databaseURL], name: "pgbench-init")
        return databaseURL
    }

    /// `pgbench -N -M prepared -T seconds` with 4 clients (2 threads) and with 1.
    func pgbenchBaseline(_ databaseURL: String, seconds: Int) async throws -> PgbenchResult {
        let four = try await runPgbench(["-n", "-N", "-M", "prepared", "-c", "4", "-j", "2", "-T", "\(seconds)", databaseURL],
                                        name: "pgbench-c4")
        let one = try await runPgbench(["-n", "-N", "-M", "prepared", "-c", "1", "-j", "1", "-T", "\(seconds)", databaseURL],
                                       name: "pgbench-c1")
        return PgbenchResult(tps4: try tps(four), tps1: try tps(one))
    }

    private func runPgbench(_ arguments: [String], name: String) async throws -> String {
        guard let pgbench = findTool("pgbench") else { throw CommandFailure("pgbench not found in PATH") }
        let child = try ChildProcess([pgbench] + arguments, logPath: "\(workDir)/\(name).log")
        let status = try await child.waitForExit(timeout: .seconds(600))
        guard status == 0 else { throw CommandFailure("\(name) failed (status \(status.map(String.init) ?? "?")): \(child.output)") }
        return child.output
    }

    private func tps(_ output: String) throws -> Double {
        for line in output.split(separator: "\n") where line.hasPrefix("tps = ") {
            if let value = Double(line.dropFirst(6).split(separator: " ").first ?? "") { return value }
        }
        throw CommandFailure("no tps in pgbench output: \(output)")
    }

    // MARK: - Workers

    func spawnWorkers(_ databaseURL: String, count: Int, tag: String) throws -> [ChildProcess] {
        try (0..<count).map { index in
            try ChildProcess([binary, "worker", "--queues", queue, "--concurrency", "\(concurrency)",
                              "--database-url", databaseURL, "--log-level", verbose ? "info" : "warning",
                              "--executor-id", "bench-\(tag)-\(index)"],
                             logPath: "\(workDir)/worker-\(tag)-\(index).log")
        }
    }

    func stopWorkers(_ workers: [ChildProcess]) async {
        for worker in workers { worker.signal(SIGTERM) }
        // A cancelled bench still kills its workers (ChildProcess's deinit).
        for worker in workers { try? await worker.stop() }
    }

    private func checkAlive(_ workers: [ChildProcess]) throws {
        for worker in workers where !worker.isRunning {
            throw CommandFailure("a worker exited (status \(worker.status.map(String.init) ?? "?")): \(worker.output.suffix(2000))")
        }
    }

    /// Polls until no task of the queue is queued or running (partial-index probes, cheap).
    private func waitDrained(_ connection: PostgresConnection, workers: [ChildProcess], timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            let rows = try await connection.query(
                """
                SELECT NOT EXISTS (SELECT 1 FROM rota.tasks WHERE state = 'queued' AND queue = $1
                                   ORDER BY priority, run_at, id LIMIT 1)
                   AND NOT EXISTS (SELECT 1 FROM rota.tasks WHERE state = 'running'
                                   ORDER BY executor LIMIT 1) AS drained
                """, [queue])
            if try rows[0].decode("drained", as: Bool.self) { return }
            try checkAlive(workers)
            guard ContinuousClock.now < deadline else { throw CommandFailure("tasks not drained within \(timeout)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    // MARK: - W1 / W4: throughput

    struct DrainResult {
        /// tasks / (last finished_at − first started_at): the drain window on the database clock.
        var rate: Double
        /// tasks / (last finished_at − the clock just before spawning the workers).
        var rateFromSpawn: Double
        /// Highest VmHWM of the workers, MiB.
        var peakRSS: Double
        /// CPU time of all workers (user + system, whole life) per task, microseconds.
        var cpuPerTask: Double
    }

    /// Enqueues `tasks` tasks `task` with `payload` (default noop; one statement), then
    /// starts `processes` workers and waits until they have finished every one.
    func drain(_ databaseURL: String, processes: Int, tasks: Int, tag: String,
               task: String = "noop", payload: String = "{}") async throws -> DrainResult {
        let connection = try await PostgresConnection.connect(databaseURL)
        defer { Task { await connection.close() } }
        let firstID = try await connection.query("SELECT coalesce(max(id), 0) AS id FROM rota.tasks")[0]
            .decode("id", as: Int64.self)
        try await connection.query(
            "SELECT count(*) FROM rota.enqueue_many($1, $3, array_fill($4::jsonb, ARRAY[$2::int]))",
            [queue, tasks, task, payload])
        try await connection.executeScript("VACUUM ANALYZE rota.tasks")
        let spawnedAt = try await connection.query("SELECT clock_timestamp()::text AS t")[0].decode("t", as: String.self)
        let workers = try spawnWorkers(databaseURL, count: processes, tag: tag)
        var peak = 0
        var ticks = 0
        do {
            try await waitDrained(connection, workers: workers, timeout: .seconds(300))
            for worker in workers {
                peak = max(peak, worker.statusKB("VmHWM") ?? 0)
                ticks += worker.cpuTicks() ?? 0
            }
        } catch {
            await stopWorkers(workers)
            throw error
        }
        await stopWorkers(workers)
        let row = try await connection.query(
            """
            SELECT count(*) FILTER (WHERE state = 'succeeded') AS done,
                   extract(epoch FROM max(finished_at) - min(started_at))::float8 AS window,
                   extract(epoch FROM max(finished_at) - $2::timestamptz)::float8 AS from_spawn
            FROM rota.tasks WHERE id > $1::bigint
            """, [firstID, spawnedAt])[0]
        let done = try row.decode("done", as: Int.self)
        guard done == tasks else { throw CommandFailure("\(tag): \(done) of \(tasks) tasks succeeded") }
        let window = try row.decode("window", as: Double.self)
        let fromSpawn = try row.decode("from_spawn", as: Double.self)
        return DrainResult(rate: Double(tasks) / window, rateFromSpawn: Double(tasks) / fromSpawn,
                           peakRSS: Double(peak) / 1024,
                           cpuPerTask: Double(ticks) / clockTicksPerSecond * 1e6 / Double(tasks))
    }

    /// Adds `rows` finished tasks directly (one INSERT ... SELECT), then VACUUM ANALYZE.
    func prefillFinished(_ databaseURL: String, rows: Int) async throws {
        let connection = try await PostgresConnection.connect(databaseURL)
        defer { Task { await connection.close() } }
        try await connection.query(
            """
            INSERT INTO rota.tasks (queue, task, payload, state, priority, run_at, attempts, max_attempts,
                                    executor, result, enqueued_at, started_at, finished_at)
            SELECT $1, 'noop', '{}', 'succeeded', 0, ts, 1, 5, 'bench-prefill', NULL, ts,
                   ts + interval '1 millisecond', ts + interval '2 milliseconds'
            FROM (SELECT now() - interval '1 hour' + g * interval '3 milliseconds' AS ts
                  FROM generate_series(1, $2::int) AS g) AS s
            """, [queue, rows])
        try await connection.executeScript("VACUUM ANALYZE rota.tasks")
    }

    // MARK: - W2: enqueue

    struct EnqueueResult { var single: Double; var batched: Double }

    func enqueue(_ databaseURL: String, singles: Int, batches: Int, batchSize: Int) async throws -> EnqueueResult {
        var logger = Logger(label: "rota.bench")
        logger.logLevel = .warning
        let client = RotaClient(connectionString: databaseURL, logger: logger)
        defer { Task { await client.close() } }
        try await client.enqueue(queue: queue, task: "noop")  // connect and prepare outside the clock
        let clock = ContinuousClock()
        var start = clock.now
        for _ in 0..<singles {
            try await client.enqueue(queue: queue, task: "noop")
        }
        let singleSeconds = (clock.now - start).seconds
        let payloads = Array(repeating: PostgresJSON(text: "{}"), count: batchSize)
        try await client.enqueueMany(queue: queue, task: "noop", payloadsJSON: [PostgresJSON(text: "{}")])
        start = clock.now
        for _ in 0..<batches {
            let ids = try await client.enqueueMany(queue: queue, task: "noop", payloadsJSON: payloads)
            guard ids.count == batchSize else { throw CommandFailure("enqueue_many returned \(ids.count) ids") }
        }
        let batchedSeconds = (clock.now - start).seconds
        return EnqueueResult(single: Double(singles) / singleSeconds,
                             batched: Double(batches * batchSize) / batchedSeconds)
    }

    // MARK: - W3: latency and idle worker

    struct LatencyResult {
        /// enqueue → handler start (ms): p50, p95, p99, max.
        var handler: [Double]
        /// enqueue → claim (started_at) (ms): p50, p95, p99, max.
        var claim: [Double]
        var idleCPUPercent: Double
        var idleRSS: Double
    }

    func latency(_ databaseURL: String, tasks: Int, spacing: Duration, idleSeconds: Int, tag: String) async throws -> LatencyResult {
        let connection = try await PostgresConnection.connect(databaseURL)
        defer { Task { await connection.close() } }
        let workers = try spawnWorkers(databaseURL, count: 2, tag: tag)
        var idleCPU = 0.0
        var idleRSS = 0.0
        do {
            // Both registered, then let them settle into their idle wait.
            let deadline = ContinuousClock.now + .seconds(30)
            while try await connection.query(
                "SELECT count(*) AS n FROM rota.executors WHERE stopped_at IS NULL")[0].decode("n", as: Int.self) < 2 {
                try checkAlive(workers)
                guard ContinuousClock.now < deadline else { throw CommandFailure("workers did not register") }
                try await Task.sleep(for: .milliseconds(20))
            }
            try await Task.sleep(for: .seconds(1))
            let before = workers.map { $0.cpuTicks() ?? 0 }
            let clock = ContinuousClock()
            let idleStart = clock.now
            try await Task.sleep(for: .seconds(idleSeconds))
            let elapsed = (clock.now - idleStart).seconds
            let after = workers.map { $0.cpuTicks() ?? 0 }
            for index in workers.indices {
                let percent = Double(after[index] - before[index]) / clockTicksPerSecond / elapsed * 100
                idleCPU = max(idleCPU, percent)
                idleRSS = max(idleRSS, Double(workers[index].statusKB("VmRSS") ?? 0) / 1024)
            }
            // One enqueue per transaction, `spacing` apart (on a fixed schedule).
            let start = clock.now
            for index in 0..<tasks {
                let due = start + spacing * index
                if clock.now < due { try await Task.sleep(until: due, clock: clock) }
                try await connection.query("SELECT rota.enqueue($1, 'latency')", [queue])
            }
            try await waitDrained(connection, workers: workers, timeout: .seconds(60))
        } catch {
            await stopWorkers(workers)
            throw error
        }
        await stopWorkers(workers)
        let (count, handler, claim) = try await latencyPercentiles(connection)
        guard count == tasks else { throw CommandFailure("latency: \(count) of \(tasks) tasks succeeded") }
        return LatencyResult(handler: handler, claim: claim, idleCPUPercent: idleCPU, idleRSS: idleRSS)
    }

    /// The succeeded `latency` tasks of the database: how many, and p50, p95, p99 and max (ms)
    /// of enqueued_at -> handler start and of enqueued_at -> started_at. The handler's start is
    /// the worker host's clock (the `latency` handler's result); enqueued_at is the creating
    /// transaction's now(), before its commit.
    private func latencyPercentiles(_ connection: PostgresConnection) async throws -> (Int, [Double], [Double]) {
        let row = try await connection.query(
            """
            WITH l AS (
                SELECT (extract(epoch FROM started_at - enqueued_at) * 1000)::float8 AS claim_ms,
                       ((result->>'started')::float8 - extract(epoch FROM enqueued_at)::float8) * 1000 AS handler_ms
                FROM rota.tasks WHERE task = 'latency' AND state = 'succeeded')
            SELECT count(*) AS n,
                   percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY handler_ms)::text AS handler,
                   max(handler_ms) AS handler_max,
                   percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY claim_ms)::text AS claim,
                   max(claim_ms) AS claim_max
            FROM l
            """)[0]
        func parse(_ text: String) -> [Double] {
            text.trimmingCharacters(in: CharacterSet(charactersIn: "{}")).split(separator: ",").compactMap { Double($0) }
        }
        return (try row.decode("n", as: Int.self),
                parse(try row.decode("handler")) + [try row.decode("handler_max", as: Double.self)],
                parse(try row.decode("claim")) + [try row.decode("claim_max", as: Double.self)])
    }

    // MARK: - W3 direct: direct start latency

    /// `tasks` direct starts of the `latency` task, `spacing` apart, on a worker running in
    /// this process (`client.start`, the way a request handler starts a workflow), each result
    /// awaited; p50, p95, p99, max (ms) of the task's creation (enqueued_at) -> handler start.
    func directStartLatency(_ databaseURL: String, tasks: Int, spacing: Duration) async throws -> [Double] {
        var logger = Logger(label: "rota.bench.direct")
        logger.logLevel = .error
        let client = RotaClient(connectionString: databaseURL, logger: logger)
        let connection = try await PostgresConnection.connect(databaseURL)
        let worker = RotaWorker(configuration: RotaWorkerConfiguration(connectionString: databaseURL,
                                                                       queues: [queue: concurrency],
                                                                       executorID: "bench-direct"),
                                handlers: DiagnosticHandlers.all, logger: logger, client: client)
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await worker.run() }
                // registered, then settled into its idle wait, as W3's workers are
                let deadline = ContinuousClock.now + .seconds(30)
                while try await connection.query("SELECT count(*) AS n FROM rota.executors")[0].decode("n", as: Int.self) < 1 {
                    guard ContinuousClock.now < deadline else { throw CommandFailure("the direct-start worker did not register") }
                    try await Task.sleep(for: .milliseconds(20))
                }
                try await Task.sleep(for: .seconds(1))
                let clock = ContinuousClock()
                let start = clock.now
                var handles: [RotaTaskHandle] = []
                for index in 0..<tasks {
                    let due = start + spacing * index
                    if clock.now < due { try await Task.sleep(until: due, clock: clock) }
                    handles.append(try await client.start(queue: queue, task: "latency", payloadJSON: PostgresJSON(text: "{}")))
                }
                let startedHere = handles.filter(\.startedHere).count
                guard startedHere == tasks else { throw CommandFailure("direct start: \(startedHere) of \(tasks) started here") }
                for handle in handles { _ = try await client.resultJSON(of: handle.id, timeout: .seconds(60)) }
                group.cancelAll()
            }
        } catch {
            await connection.close()
            await client.close()
            throw error
        }
        let (count, handler, _) = try await latencyPercentiles(connection)
        await connection.close()
        await client.close()
        guard count == tasks else { throw CommandFailure("direct start: \(count) of \(tasks) tasks succeeded") }
        return handler
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
