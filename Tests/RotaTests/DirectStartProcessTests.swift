import Foundation
import Rota
import RotaTestSupport
import XCTest

/// A task started directly in a `rota worker` process (`--start-task`) whose process is
/// SIGKILLed mid-run: the reaper of another process puts it back, that process resumes it
/// after its last recorded step, and `result(of:)` in this process sees the result.
final class DirectStartProcessTests: XCTestCase {
    typealias WorkerProcess = MultiProcessTests.WorkerProcess

    struct StepsResult: Decodable { var ran: [Int] }

    func testSIGKILLedDirectStartIsResumedByAnotherProcessAndItsResultAwaited() async throws {
        let binary = try TestEnvironment.rotaBinary()
        let url = try await TestEnvironment.freshDatabase("rota_test_swift_direct_processes")
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("ds_kill", options: QueueOptions(maxAttempts: 5, lease: .seconds(2),
                                                                     backoffBase: .milliseconds(50), backoffMax: .milliseconds(200)))
        let starter = try WorkerProcess(binary: binary, url: url, queue: "ds_kill", concurrency: 2, executorID: "ds-starter",
                                        extra: ["--start-task", "steps", "--start-payload", #"{"steps": 5, "ms": 300}"#])
        func recordedSteps() async throws -> Set<Int> {
            Set(try await client.query(
                "SELECT substr(s.name, 6)::int AS step FROM rota.task_steps s JOIN rota.tasks t ON t.id = s.task_id WHERE t.queue = 'ds_kill'")
                .map { try $0.decode("step", as: Int.self) })
        }
        try await waitUntil("2 steps of the started task are recorded", timeout: .seconds(30), every: .milliseconds(5)) {
            try await recordedSteps().count >= 2
        }
        starter.signal(SIGKILL)
        _ = try await starter.waitForExit(timeout: .seconds(5))
        XCTAssertTrue(starter.log.contains("(started here: true)"), "the task started in the killed process; log:\n\(starter.log)")
        try await waitUntilOtherBackendsEnded(client)
        let recordedBeforeKill = try await recordedSteps()
        let rows = try await client.query("SELECT id, state, executor FROM rota.tasks WHERE queue = 'ds_kill'")
        XCTAssertEqual(rows.count, 1)
        let id: Int64 = try rows[0].decode("id")
        XCTAssertEqual(try rows[0].decode("state", as: String.self), "running", "killed mid-run")
        XCTAssertEqual(try rows[0].decode("executor", as: String.self), "ds-starter")
        XCTAssertLessThan(recordedBeforeKill.count, 5, "the kill hit the workflow in the middle")

        let other = try WorkerProcess(binary: binary, url: url, queue: "ds_kill", concurrency: 2, executorID: "ds-other")
        let result = try await client.result(of: id, as: StepsResult.self, timeout: .seconds(60))
        XCTAssertEqual(result.ran, (1...5).filter { !recordedBeforeKill.contains($0) },
                       "the other process ran exactly the steps not recorded before the kill")
        let found = try await client.task(id: id)
        let task = try XCTUnwrap(found)
        XCTAssertEqual(task.executor, "ds-other")
        XCTAssertGreaterThanOrEqual(task.attemptCount, 2)
        XCTAssertEqual(task.attempts.first?.executor, "ds-starter", "attempt 1 was the direct start")
        other.signal(SIGTERM)
        let status = try await other.waitForExit(timeout: .seconds(20))
        XCTAssertEqual(status, 0, "worker exit status; log:\n\(other.log)")
        await client.close()
    }
}
