import Foundation
import Rota
import RotaTestSupport
import XCTest

/// `rota worker` processes running 5-step workflows (the diagnostic handler `steps`),
/// SIGKILLed at different points: the next worker resumes each task after its last
/// recorded step, and transactional steps' effects exist exactly once.
final class WorkflowProcessTests: XCTestCase {
    typealias WorkerProcess = MultiProcessTests.WorkerProcess

    struct StepsResult: Decodable { var ran: [Int] }

    func testSIGKILLedWorkflowsResumeAfterTheirLastRecordedStep() async throws {
        let binary = try TestEnvironment.rotaBinary()
        let url = try await TestEnvironment.freshDatabase("rota_test_swift_workflow_processes")
        let client = RotaClient(connectionString: url)
        try await client.query("CREATE TABLE rota_step_effects (task_id bigint NOT NULL, step int NOT NULL)")
        let stepCount = 5, taskCount = 4
        // Kill once a few steps, about half of them, and most of them are recorded.
        for (round, threshold) in [2, 9, 16].enumerated() {
            let queue = "wk_\(round)"
            try await client.defineQueue(queue, options: QueueOptions(maxAttempts: 5, lease: .seconds(2),
                                                                      backoffBase: .milliseconds(50), backoffMax: .milliseconds(200)))
            // Half plain steps, half transactional ones.
            let ids = try await client.enqueueMany(queue: queue, task: "steps", payloadsJSON: (0..<taskCount).map {
                PostgresJSON(text: #"{"steps": \#(stepCount), "ms": 150, "transactional": \#($0 % 2 == 1)}"#)
            })
            let transactional = ids.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
            func recordedSteps() async throws -> [Int64: Set<Int>] {
                var recorded: [Int64: Set<Int>] = [:]
                for row in try await client.query(
                    "SELECT task_id, substr(name, 6)::int AS step FROM rota.task_steps WHERE task_id = ANY($1::bigint[])", [ids]) {
                    recorded[try row.decode("task_id"), default: []].insert(try row.decode("step"))
                }
                return recorded
            }

            func clientBackends() async throws -> Set<Int> {
                Set(try await client.query("""
                    SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'
                    """).map { try $0.decode("pid", as: Int.self) })
            }
            let testBackends = try await clientBackends()
            let first = try WorkerProcess(binary: binary, url: url, queue: queue, concurrency: taskCount,
                                          executorID: "wk-\(round)-first")
            try await waitUntil("\(threshold) steps recorded", timeout: .seconds(30), every: .milliseconds(5)) {
                try await recordedSteps().values.map(\.count).reduce(0, +) >= threshold
            }
            first.signal(SIGKILL)
            _ = try await first.waitForExit(timeout: .seconds(5))
            // A statement the killed process sent just before the signal still runs to its
            // end on the server (a COMMIT commits): wait until its sessions are gone.
            try await waitUntil("the killed worker's sessions ended") {
                try await clientBackends().subtracting(testBackends).isEmpty
            }
            // Only now: a checkpoint sent just before the signal may still have committed.
            try await waitUntilOtherBackendsEnded(client)
            let recordedBeforeKill = try await recordedSteps()
            let unfinished = try await client.query(
                "SELECT id FROM rota.tasks WHERE id = ANY($1::bigint[]) AND state <> 'succeeded'", [ids])
                .map { try $0.decode("id", as: Int64.self) }
            XCTAssertFalse(unfinished.isEmpty, "round \(round): the kill hit workflows in the middle")
            print("round \(round): SIGKILL with \(recordedBeforeKill.values.map(\.count).reduce(0, +)) of "
                  + "\(taskCount * stepCount) steps recorded, \(unfinished.count) task(s) unfinished")

            let second = try WorkerProcess(binary: binary, url: url, queue: queue, concurrency: taskCount,
                                           executorID: "wk-\(round)-second")
            try await waitUntil("round \(round): every task succeeded", timeout: .seconds(60), every: .milliseconds(20)) {
                try await client.query("SELECT count(*) AS n FROM rota.tasks WHERE id = ANY($1::bigint[]) AND state = 'succeeded'",
                                       [ids])[0].decode("n", as: Int.self) == taskCount
            }
            for id in unfinished {
                let found = try await client.task(id: id)
                let task = try XCTUnwrap(found)
                let result = try JSONDecoder().decode(StepsResult.self, from: Data(try XCTUnwrap(task.result).utf8))
                let before = recordedBeforeKill[id] ?? []
                XCTAssertEqual(result.ran, (1...stepCount).filter { !before.contains($0) },
                               "round \(round), task \(id): the final attempt ran exactly the steps not recorded before the kill")
                XCTAssertGreaterThanOrEqual(task.attemptCount, 2)
                XCTAssertEqual(task.executor, second.executorID)
                XCTAssertEqual(Set(task.steps.filter { $0.attempt == 1 }.map(\.name)), Set(before.map { "step-\($0)" }),
                               "round \(round), task \(id): the checkpoints of the killed attempt were kept as they were")
                XCTAssertEqual(task.steps.count, stepCount)
            }
            let effects = try await client.query(
                "SELECT task_id, step, count(*) AS n FROM rota_step_effects WHERE task_id = ANY($1::bigint[]) GROUP BY 1, 2",
                [transactional])
            XCTAssertEqual(effects.count, transactional.count * stepCount,
                           "round \(round): every transactional step's effect exists")
            for row in effects {
                let (task, step) = (try row.decode("task_id", as: Int64.self), try row.decode("step", as: Int.self))
                XCTAssertEqual(try row.decode("n", as: Int.self), 1,
                               "round \(round): the effect of task \(task) step \(step) exists exactly once")
            }
            second.signal(SIGTERM)
            let status = try await second.waitForExit(timeout: .seconds(20))
            XCTAssertEqual(status, 0, "worker \(second.executorID) exit status; log:\n\(second.log)")
        }
        await client.close()
    }
}
