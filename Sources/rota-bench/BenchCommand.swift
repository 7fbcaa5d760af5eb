import ArgumentParser
import Foundation
import Rota
import RotaChildProcess
import RotaCommandLine

/// `rota-bench`: the throughput and latency figures of Rota against the commit rate of the
/// same cluster (`pgbench -N`), as one table (or JSON). See docs/bench.md.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rota-bench",
        abstract: "Measure throughput, enqueue rate and start latency against pgbench -N on the same cluster.",
        discussion: """
            Creates (and drops) databases rota_bench_* on the server of --database-url and runs `rota worker` \
            processes (--rota, default: the rota binary beside this one). Workloads: baseline (pgbench -N -M prepared, 4 clients and 1), \
            W1 (drain of enqueued noop tasks by 1, 2, 3 worker processes), W2 (single and batched enqueue), \
            W3 (enqueue-to-start latency with 2 idle workers, and direct-start-to-start latency on a worker in \
            this process; idle CPU and RSS), W4 (W1 with 2 processes \
            over a table holding 1,000,000 finished tasks), W5 (3-step workflows, plain and transactional: steps/s, \
            CPU and round trips per step). Each figure is the median of --runs runs.
            """)

    @OptionGroup var connection: ConnectionOptions
    @Flag(help: "Print JSON instead of the table.") var json = false
    @Option(help: "Runs of each workload (the median is reported, with min and max).") var runs = 3
    @Option(help: "Seconds of each pgbench baseline run.") var baselineSeconds = 10
    @Option(help: "Tasks drained by W1 and W4.") var tasks = 20_000
    @Option(help: "Handler concurrency of each worker process.") var concurrency = 16
    @Option(help: "Finished tasks already in the table for W4.") var prefill = 1_000_000
    @Option(help: "Comma-separated workloads to run: baseline,w1,w2,w3,w4,w5 (default: all).") var only: String?
    @Option(help: "Workflows drained by W5 (each kind).") var workflows = 10_000
    @Option(help: "Worker processes for W1 (comma-separated).") var processes = "1,2,3"
    @Flag(help: "Keep the rota_bench_* databases afterwards.") var keep = false
    @Flag(help: "Workers log at info level (logs stay in the work folder).") var verbose = false
    @Option(help: "The rota binary whose `rota worker` processes are measured (default: beside rota-bench).")
    var rota: String?

    static func main() async { await CommandLineRunner.main(Self.self) }

    func validate() throws {
        if runs < 1 { throw ValidationError("--runs must be at least 1") }
        if tasks < 1 || concurrency < 1 || prefill < 0 || workflows < 1 {
            throw ValidationError("--tasks, --concurrency, --workflows must be positive")
        }
        let known: Set<String> = ["baseline", "w1", "w2", "w3", "w4", "w5"]
        for name in selected where !known.contains(name) { throw ValidationError("--only: unknown workload \(name)") }
        if processList.isEmpty { throw ValidationError("--processes: give at least one count") }
    }

    var selected: Set<String> {
        guard let only else { return ["baseline", "w1", "w2", "w3", "w4", "w5"] }
        return Set(only.lowercased().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
    }

    var processList: [Int] { processes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.filter { $0 > 0 } }

    func run() async throws {
        let server = connection.connectionString
        let workDir = FileManager.default.temporaryDirectory.appendingPathComponent("rota-bench-\(getpid())").path
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        let binary = rota ?? URL(fileURLWithPath: currentExecutablePath()).deletingLastPathComponent()
            .appendingPathComponent("rota").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw CommandFailure("no rota binary at \(binary): build it (swift build --product rota) or pass --rota")
        }
        let bench = BenchWorkloads(serverURL: server, binary: binary, workDir: workDir,
                                   verbose: verbose, concurrency: concurrency)
        let environment = try await describeServer(server)
        bench.note("\(environment.summary); logs in \(workDir)")
        var figures = BenchFigures()
        let selected = self.selected
        let started = ContinuousClock.now

        var pgbenchURL: String?
        if selected.contains("baseline") { pgbenchURL = try await bench.preparePgbench() }
        for run in 1...runs {
            bench.note("run \(run) of \(runs)")
            if let pgbenchURL {
                bench.note("baseline: pgbench -N, \(baselineSeconds) s with 4 clients, \(baselineSeconds) s with 1")
                let base = try await bench.pgbenchBaseline(pgbenchURL, seconds: baselineSeconds)
                figures.add("baseline.pgbench_c4_tps", base.tps4)
                figures.add("baseline.pgbench_c1_tps", base.tps1)
            }
            if selected.contains("w1") {
                for count in processList {
                    bench.note("W1: \(tasks) noop tasks, \(count) worker process(es) x concurrency \(concurrency)")
                    let databaseURL = try await bench.freshDatabase("rota_bench_w1")
                    let result = try await bench.drain(databaseURL, processes: count, tasks: tasks, tag: "w1-\(count)p-r\(run)")
                    figures.add("w1.\(count)p_tasks_per_s", result.rate)
                    figures.add("w1.\(count)p_tasks_per_s_from_spawn", result.rateFromSpawn)
                    figures.add("w1.\(count)p_peak_rss_mib", result.peakRSS)
                    figures.add("w1.\(count)p_worker_cpu_us_per_task", result.cpuPerTask)
                }
            }
            if selected.contains("w2") {
                bench.note("W2: 10,000 single enqueues, 100 x enqueue_many(1,000)")
                let databaseURL = try await bench.freshDatabase("rota_bench_w2")
                let result = try await bench.enqueue(databaseURL, singles: 10_000, batches: 100, batchSize: 1_000)
                figures.add("w2.single_tasks_per_s", result.single)
                figures.add("w2.batched_tasks_per_s", result.batched)
            }
            if selected.contains("w3") {
                bench.note("W3: 2 idle workers (5 s idle measurement), 500 enqueues 10 ms apart")
                let databaseURL = try await bench.freshDatabase("rota_bench_w3")
                let result = try await bench.latency(databaseURL, tasks: 500, spacing: .milliseconds(10), idleSeconds: 5,
                                                     tag: "w3-r\(run)")
                for (index, name) in ["p50", "p95", "p99", "max"].enumerated() {
                    figures.add("w3.handler_\(name)_ms", result.handler[index])
                    figures.add("w3.claim_\(name)_ms", result.claim[index])
                }
                figures.add("idle.cpu_percent", result.idleCPUPercent)
                figures.add("idle.rss_mib", result.idleRSS)
                bench.note("W3 direct: a worker in this process, 500 direct starts 10 ms apart (client.start)")
                let directURL = try await bench.freshDatabase("rota_bench_w3_direct")
                let direct = try await bench.directStartLatency(directURL, tasks: 500, spacing: .milliseconds(10))
                for (index, name) in ["p50", "p95", "p99", "max"].enumerated() {
                    figures.add("w3.direct_handler_\(name)_ms", direct[index])
                }
            }
            if selected.contains("w5") {
                bench.note("W5: \(workflows) noop tasks, \(workflows) workflows of 3 steps, \(workflows) of 3 transactional steps, 2 worker processes each")
                let result = try await bench.workflows(tasks: workflows, steps: 3, processes: 2, tag: "w5-r\(run)")
                figures.add("w5.steps_per_s", result.stepsPerSecond)
                figures.add("w5.tx_steps_per_s", result.transactionalStepsPerSecond)
                figures.add("w5.cpu_us_per_step", result.cpuPerStep)
                figures.add("w5.cpu_us_per_tx_step", result.cpuPerTransactionalStep)
                figures.add("w5.round_trips_per_step", result.roundTripsPerStep)
                figures.add("w5.round_trips_per_tx_step", result.roundTripsPerTransactionalStep)
            }
        }
        if selected.contains("w4") {
            bench.note("W4: \(prefill) finished tasks in the table, then W1 with 2 processes, \(runs) run(s)")
            let databaseURL = try await bench.freshDatabase("rota_bench_w4")
            let clock = ContinuousClock()
            let before = clock.now
            try await bench.prefillFinished(databaseURL, rows: prefill)
            bench.note("W4: prefill and VACUUM ANALYZE took \(formatNumber((clock.now - before).seconds, decimals: 1)) s")
            for run in 1...runs {
                let result = try await bench.drain(databaseURL, processes: 2, tasks: tasks, tag: "w4-r\(run)")
                figures.add("w4.2p_tasks_per_s", result.rate)
            }
        }
        if !keep {
            for name in ["rota_bench_pgbench", "rota_bench_w1", "rota_bench_w2", "rota_bench_w3", "rota_bench_w3_direct",
                         "rota_bench_w4", "rota_bench_w5"] {
                await bench.dropDatabase(name)
            }
        }
        let elapsed = (ContinuousClock.now - started).seconds
        let report = BenchReport(environment: environment, figures: figures, runs: runs, tasks: tasks,
                                 concurrency: concurrency, prefill: prefill, elapsed: elapsed)
        if json {
            print(report.json())
        } else {
            print(report.table())
        }
    }

    private func describeServer(_ server: String) async throws -> BenchEnvironment {
        let admin = try await PostgresConnection.connect(server)
        defer { Task { await admin.close() } }
        let row = try await admin.query(
            """
            SELECT current_setting('server_version') AS version, current_setting('synchronous_commit') AS sync,
                   current_setting('fsync') AS fsync, current_setting('shared_buffers') AS shared_buffers
            """)[0]
        let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?
            .split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
        return BenchEnvironment(postgres: try row.decode("version"), synchronousCommit: try row.decode("sync"),
                                fsync: try row.decode("fsync"), sharedBuffers: try row.decode("shared_buffers"),
                                cpus: ProcessInfo.processInfo.activeProcessorCount, loadAverage: load)
    }
}

struct BenchEnvironment: Codable {
    var postgres: String
    var synchronousCommit: String
    var fsync: String
    var sharedBuffers: String
    var cpus: Int
    var loadAverage: String

    var summary: String {
        "PostgreSQL \(postgres), \(cpus) CPUs, synchronous_commit=\(synchronousCommit), fsync=\(fsync), " +
            "shared_buffers=\(sharedBuffers), load average \(loadAverage) at start"
    }
}

/// Every run's value of each figure, by name.
struct BenchFigures {
    var values: [String: [Double]] = [:]
    mutating func add(_ name: String, _ value: Double) { values[name, default: []].append(value) }
    func summary(_ name: String) -> Summary? { values[name].map(Summary.init(values:)) }
}

/// The table and JSON of a bench run.
struct BenchReport {
    var environment: BenchEnvironment
    var figures: BenchFigures
    var runs: Int
    var tasks: Int
    var concurrency: Int
    var prefill: Int
    var elapsed: Double

    enum Goal { case atLeast(Double), atMost(Double), none }

    struct Line {
        var name: String
        var key: String
        var unit: String
        var decimals: Int
        /// The figure a ratio is taken to (per run, same run index), with its label.
        var ratioTo: (key: String, label: String)?
        var goal: Goal
    }

    var lines: [Line] {
        var lines: [Line] = [
            Line(name: "baseline: pgbench -N, 4 clients", key: "baseline.pgbench_c4_tps", unit: "TPS", decimals: 0, goal: .none),
            Line(name: "baseline: pgbench -N, 1 client", key: "baseline.pgbench_c1_tps", unit: "TPS", decimals: 0, goal: .none),
        ]
        for count in figures.values.keys.compactMap(Self.processCount).sorted() {
            lines.append(Line(name: "W1 drain \(tasks / 1000)k noop, \(count) proc x \(concurrency)",
                              key: "w1.\(count)p_tasks_per_s", unit: "tasks/s", decimals: 0,
                              ratioTo: ("baseline.pgbench_c4_tps", "pgbench -N"),
                              goal: count == 2 ? .atLeast(2) : .none))
        }
        if figures.values["w1.2p_tasks_per_s_from_spawn"] != nil {
            lines.append(Line(name: "W1 2 proc, from spawn to last finish", key: "w1.2p_tasks_per_s_from_spawn",
                              unit: "tasks/s", decimals: 0, ratioTo: ("baseline.pgbench_c4_tps", "pgbench -N"), goal: .none))
        }
        lines += [
            Line(name: "W2 enqueue, single (1 tx each)", key: "w2.single_tasks_per_s", unit: "tasks/s", decimals: 0,
                 ratioTo: ("baseline.pgbench_c1_tps", "pgbench -c1 -N"), goal: .atLeast(0.8)),
            Line(name: "W2 enqueue_many, batches of 1,000", key: "w2.batched_tasks_per_s", unit: "tasks/s", decimals: 0,
                 ratioTo: ("baseline.pgbench_c4_tps", "pgbench -N"), goal: .atLeast(10)),
            Line(name: "W3 enqueue -> handler start, p50", key: "w3.handler_p50_ms", unit: "ms", decimals: 2, goal: .atMost(5)),
            Line(name: "W3 enqueue -> handler start, p95", key: "w3.handler_p95_ms", unit: "ms", decimals: 2, goal: .none),
            Line(name: "W3 enqueue -> handler start, p99", key: "w3.handler_p99_ms", unit: "ms", decimals: 2, goal: .atMost(25)),
            Line(name: "W3 enqueue -> handler start, max", key: "w3.handler_max_ms", unit: "ms", decimals: 2, goal: .none),
            Line(name: "W3 direct start -> handler start, p50", key: "w3.direct_handler_p50_ms", unit: "ms", decimals: 2,
                 ratioTo: ("w3.handler_p50_ms", "W3 enqueue p50"), goal: .none),
            Line(name: "W3 direct start -> handler start, p99", key: "w3.direct_handler_p99_ms", unit: "ms", decimals: 2,
                 ratioTo: ("w3.handler_p99_ms", "W3 enqueue p99"), goal: .none),
            Line(name: "W3 enqueue -> claim (started_at), p50", key: "w3.claim_p50_ms", unit: "ms", decimals: 2, goal: .none),
            Line(name: "W3 enqueue -> claim (started_at), p99", key: "w3.claim_p99_ms", unit: "ms", decimals: 2, goal: .none),
            Line(name: "W4 W1 2 proc over \(prefill / 1000)k finished rows", key: "w4.2p_tasks_per_s", unit: "tasks/s",
                 decimals: 0, ratioTo: ("w1.2p_tasks_per_s", "W1 2 proc"), goal: .atLeast(0.8)),
            Line(name: "W5 3-step workflows, 2 proc: steps", key: "w5.steps_per_s", unit: "steps/s", decimals: 0,
                 ratioTo: ("baseline.pgbench_c4_tps", "pgbench -N"), goal: .none),
            Line(name: "W5 3 transactional steps, 2 proc: steps", key: "w5.tx_steps_per_s", unit: "steps/s", decimals: 0,
                 ratioTo: ("baseline.pgbench_c4_tps", "pgbench -N"), goal: .none),
            Line(name: "W5 worker CPU per step (over noop)", key: "w5.cpu_us_per_step", unit: "us", decimals: 1, goal: .none),
            Line(name: "W5 worker CPU per transactional step", key: "w5.cpu_us_per_tx_step", unit: "us", decimals: 1,
                 goal: .none),
            Line(name: "W5 round trips per step", key: "w5.round_trips_per_step", unit: "", decimals: 2, goal: .none),
            Line(name: "W5 round trips per transactional step", key: "w5.round_trips_per_tx_step", unit: "", decimals: 2,
                 goal: .none),
            Line(name: "worker CPU per task (W1, 2 proc)", key: "w1.2p_worker_cpu_us_per_task", unit: "us", decimals: 1,
                 goal: .none),
            Line(name: "worker peak RSS (W1, 2 proc)", key: "w1.2p_peak_rss_mib", unit: "MiB", decimals: 1, goal: .none),
            Line(name: "idle worker CPU (5 s)", key: "idle.cpu_percent", unit: "% core", decimals: 2, goal: .atMost(1)),
            Line(name: "idle worker RSS", key: "idle.rss_mib", unit: "MiB", decimals: 1, goal: .atMost(50)),
        ]
        return lines.filter { figures.values[$0.key] != nil }
    }

    static func processCount(_ key: String) -> Int? {
        guard key.hasPrefix("w1."), key.hasSuffix("p_tasks_per_s") else { return nil }
        return Int(key.dropFirst(3).dropLast("p_tasks_per_s".count))
    }

    /// Per-run ratios of a line to its reference (same run index).
    func ratios(_ line: Line) -> Summary? {
        guard let reference = line.ratioTo, let mine = figures.values[line.key],
              let theirs = figures.values[reference.key], !theirs.isEmpty else { return nil }
        let pairs = zip(mine, mine.indices.map { theirs[min($0, theirs.count - 1)] })
        return Summary(values: pairs.map { $0 / $1 })
    }

    func met(_ line: Line) -> Bool? {
        switch line.goal {
        case .none: return nil
        case .atLeast(let target):
            guard let value = line.ratioTo == nil ? figures.summary(line.key)?.median : ratios(line)?.median else { return nil }
            return value >= target
        case .atMost(let target):
            guard let value = figures.summary(line.key)?.median else { return nil }
            return value <= target
        }
    }

    func targetText(_ line: Line) -> String {
        switch line.goal {
        case .none: return ""
        case .atLeast(let target): return line.ratioTo == nil ? ">= \(target)" : ">= \(formatNumber(target, decimals: 1))x"
        case .atMost(let target): return "<= \(formatNumber(target, decimals: target < 10 ? 0 : 0)) \(line.unit)"
        }
    }

    func table() -> String {
        var rows: [[String]] = [["figure", "median", "min", "max", "unit", "ratio (min-max)", "to", "target", "met"]]
        for line in lines {
            guard let summary = figures.summary(line.key) else { continue }
            var ratioText = ""
            if let ratio = ratios(line) {
                ratioText = "\(formatNumber(ratio.median, decimals: 2))x (\(formatNumber(ratio.min, decimals: 2))-\(formatNumber(ratio.max, decimals: 2)))"
            }
            let metText = met(line).map { $0 ? "yes" : "NO" } ?? ""
            rows.append([line.name, formatNumber(summary.median, decimals: line.decimals),
                         formatNumber(summary.min, decimals: line.decimals), formatNumber(summary.max, decimals: line.decimals),
                         line.unit, ratioText, line.ratioTo?.label ?? "", targetText(line), metText])
        }
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        let rightAligned: Set<Int> = [1, 2, 3]
        var out = environment.summary + "\n"
        out += "\(runs) run(s) per figure: median, min, max; ratios per run against that run's baseline; \(formatNumber(elapsed, decimals: 0)) s in all\n"
        for (index, row) in rows.enumerated() {
            let cells = row.indices.map { column -> String in
                let padding = String(repeating: " ", count: widths[column] - row[column].count)
                return rightAligned.contains(column) ? padding + row[column] : row[column] + padding
            }
            out += cells.joined(separator: "  ").trimmingCharacters(in: .whitespaces) + "\n"
            if index == 0 { out += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n" }
        }
        out += """
            W1: tasks / (last finished_at - first started_at) of the drained tasks, database clock; "from spawn" \
            counts from just before the worker processes start.
            W3: enqueued_at (the enqueue transaction's now(), before its commit) to the `latency` handler's first \
            instruction (worker host clock, the same host as the database here); "claim" ends at started_at. \
            W3 direct: the same from a direct start (rota.start's now()) on a worker in the bench process.
            W5: steps / drain window of 3-step workflows (`steps` handler, 0 ms); CPU per step over a noop task of the \
            same run; round trips = server-counted calls of rota.steps/step/record_step per step (+ BEGIN and COMMIT \
            for a transactional step).
            """
        return out
    }

    func json() -> String {
        var entries: [[String: Any]] = []
        for line in lines {
            guard let summary = figures.summary(line.key) else { continue }
            var entry: [String: Any] = ["key": line.key, "name": line.name, "unit": line.unit,
                                        "median": summary.median, "min": summary.min, "max": summary.max,
                                        "values": summary.values]
            if let ratio = ratios(line), let reference = line.ratioTo {
                entry["ratio"] = ["to": reference.key, "median": ratio.median, "min": ratio.min, "max": ratio.max,
                                  "values": ratio.values]
            }
            if !targetText(line).isEmpty { entry["target"] = targetText(line) }
            if let met = met(line) { entry["met"] = met }
            entries.append(entry)
        }
        var all: [String: Any] = [:]
        for (key, values) in figures.values {
            let summary = Summary(values: values)
            all[key] = ["median": summary.median, "min": summary.min, "max": summary.max, "values": values]
        }
        let document: [String: Any] = [
            "environment": ["postgres": environment.postgres, "synchronous_commit": environment.synchronousCommit,
                            "fsync": environment.fsync, "shared_buffers": environment.sharedBuffers,
                            "cpus": environment.cpus, "load_average": environment.loadAverage],
            "runs": runs, "tasks": tasks, "concurrency": concurrency, "prefill": prefill, "elapsed_s": elapsed,
            "figures": entries, "all": all,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
