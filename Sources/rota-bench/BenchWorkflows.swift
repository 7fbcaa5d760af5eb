import Foundation
import Rota
import RotaCommandLine

extension BenchWorkloads {
    /// W5: what a step checkpoint costs.
    struct WorkflowResult {
        /// Steps per second of the plain workflows: tasks × steps / drain window (database clock).
        var stepsPerSecond: Double
        /// The same for the transactional workflows.
        var transactionalStepsPerSecond: Double
        /// Worker CPU (user + system, all processes) per step, over that of a noop task, µs.
        var cpuPerStep: Double
        var cpuPerTransactionalStep: Double
        /// Calls of `rota.steps`, `rota.step` and `rota.record_step` per step: each is one
        /// round trip of the worker (counted by the server, `track_functions`).
        var roundTripsPerStep: Double
        /// The same per transactional step, plus its BEGIN and COMMIT (statements, not
        /// functions: two per transactional step, whatever the handler runs in it).
        var roundTripsPerTransactionalStep: Double
    }

    /// Drains `tasks` noop tasks, `tasks` workflows of `steps` plain steps and `tasks` of
    /// `steps` transactional steps (the `steps` diagnostic handler, 0 ms per step, each
    /// transactional step inserting one row), each with `processes` worker processes in a
    /// fresh database.
    func workflows(tasks: Int, steps: Int, processes: Int, tag: String) async throws -> WorkflowResult {
        let noop = try await countedDrain(tasks: tasks, processes: processes, tag: "\(tag)-noop", task: "noop", payload: "{}")
        let plain = try await countedDrain(tasks: tasks, processes: processes, tag: "\(tag)-steps", task: "steps",
                                           payload: #"{"steps": \#(steps), "ms": 0}"#)
        let transactional = try await countedDrain(tasks: tasks, processes: processes, tag: "\(tag)-tx", task: "steps",
                                                   payload: #"{"steps": \#(steps), "ms": 0, "transactional": true}"#)
        let stepCount = Double(tasks * steps)
        func checkpointCalls(_ calls: [String: Int]) -> Double {
            Double(["steps", "step", "record_step"].reduce(0) { $0 + (calls[$1] ?? 0) })
        }
        return WorkflowResult(
            stepsPerSecond: plain.drain.rate * Double(steps),
            transactionalStepsPerSecond: transactional.drain.rate * Double(steps),
            cpuPerStep: (plain.drain.cpuPerTask - noop.drain.cpuPerTask) / Double(steps),
            cpuPerTransactionalStep: (transactional.drain.cpuPerTask - noop.drain.cpuPerTask) / Double(steps),
            roundTripsPerStep: checkpointCalls(plain.calls) / stepCount,
            roundTripsPerTransactionalStep: checkpointCalls(transactional.calls) / stepCount + 2)
    }

    /// A drain in a fresh database `rota_bench_w5` whose sessions count calls of rota's
    /// functions; returns the counts once every worker session has ended (a backend
    /// reports its counts at the latest when it exits).
    private func countedDrain(tasks: Int, processes: Int, tag: String, task: String,
                              payload: String) async throws -> (drain: DrainResult, calls: [String: Int]) {
        let databaseURL = try await freshDatabase("rota_bench_w5")
        let connection = try await PostgresConnection.connect(databaseURL)
        do {
            try await connection.executeScript("""
                ALTER DATABASE rota_bench_w5 SET track_functions = 'all';
                CREATE TABLE rota_step_effects (task_id bigint NOT NULL, step int NOT NULL, PRIMARY KEY (task_id, step));
                """)
            let drain = try await drain(databaseURL, processes: processes, tasks: tasks, tag: tag, task: task, payload: payload)
            let deadline = ContinuousClock.now + .seconds(30)
            while try await connection.query("""
                SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
                """)[0].decode("n", as: Int.self) > 0 {
                guard ContinuousClock.now < deadline else { throw CommandFailure("\(tag): worker sessions still open") }
                try await Task.sleep(for: .milliseconds(50))
            }
            var calls: [String: Int] = [:]
            for row in try await connection.query("""
                SELECT funcname::text AS name, sum(calls)::bigint AS calls FROM pg_stat_user_functions
                WHERE schemaname = 'rota' GROUP BY funcname
                """) {
                calls[try row.decode("name")] = try row.decode("calls", as: Int.self)
            }
            await connection.close()
            return (drain, calls)
        } catch {
            await connection.close()
            throw error
        }
    }
}
