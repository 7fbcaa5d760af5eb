import Foundation
import Rota
import RotaTestSupport
import XCTest

/// The fence tests of a worker's transactions (a transactional step, the completion in a
/// transaction): a handler inserts a row in its transaction and waits while the test takes
/// the task from its attempt; the transaction must then commit nothing.
enum FencedTransaction {
    /// Runs a transaction with `body` for the handler: `context.transaction(...)` or
    /// `context.completeInTransaction(...)`.
    typealias Runner = @Sendable (TaskContext, (RotaTransaction) async throws -> Int) async throws -> Void

    /// Takes the task from its running attempt as a lost lease does: the lease ends, the
    /// reaper requeues it and executor `thief` claims it (attempt 2).
    static func takeOver(by thief: String, queue: String) -> (RotaClient, Int64) async throws -> Void {
        { client, id in
            try await client.query("SELECT rota.register_executor($1)", [thief])
            try await client.query("UPDATE rota.tasks SET lease_expires_at = now() - interval '1 second' WHERE id = $1::bigint", [id])
            try await client.query("SELECT rota.reap()")
            try await client.query("UPDATE rota.tasks SET run_at = now() WHERE id = $1::bigint", [id])
            let taken = try await client.query("SELECT id, attempt FROM rota.claim($1, ARRAY[$2])", [thief, queue])
            XCTAssertEqual(try taken.first?.decode("attempt", as: Int.self), 2)
        }
    }

    /// Runs a task on `queue` whose transaction (run by `run`) inserts a row and then waits
    /// until `interrupt` has taken the task from its attempt; checks that the transaction
    /// threw `fencedOff` with a message containing `message` (`%ID%` stands for the task id)
    /// and that neither the row nor a checkpoint was committed, then runs `then`.
    static func assertCommitsNothing(
        url: String, queue: String, message: String, run: @escaping Runner,
        interruptedBy interrupt: (RotaClient, Int64) async throws -> Void,
        then: (RotaClient, Int64) async throws -> Void, file: StaticString = #filePath, line: UInt = #line
    ) async throws {
        let client = RotaClient(connectionString: url)
        try await client.defineQueue(queue, options: QueueOptions(maxAttempts: 3, backoffBase: .milliseconds(10),
                                                                  backoffMax: .milliseconds(50)))
        let table = "\(queue)_effects"
        try await client.query("CREATE TABLE \(table) (task_id bigint, attempt int)")
        let inside = Recorder<Int>()
        let outcomes = Recorder<String>()
        let gate = WorkflowTests.Gate()
        var handlers = RotaHandlers()
        handlers.register("slow-charge") { (_: EmptyPayload, context) in
            do {
                try await run(context) { tx in
                    try await tx.query("INSERT INTO \(table) VALUES ($1::bigint, $2::int)", [context.taskID, context.attempt])
                    inside.append(context.attempt)
                    await gate.wait()
                    return 1
                }
                outcomes.append("committed")
            } catch let error as RotaError where error.code == .fencedOff {
                outcomes.append(error.message)
                throw error
            } catch {
                outcomes.append("unexpected: \(error)")
                throw error
            }
        }
        try await withWorker(url: url, queues: [queue: 1], handlers: handlers) { _, _ in
            defer { gate.open() }  // also when the test fails, so the worker can stop
            let id = try await client.enqueue(queue: queue, task: "slow-charge")
            try await waitUntil("the handler is inside its transaction") { inside.count == 1 }
            try await interrupt(client, id)
            gate.open()
            try await waitUntil("the transaction ended") { outcomes.count == 1 }
            let expected = message.replacingOccurrences(of: "%ID%", with: "\(id)")
            XCTAssertTrue(outcomes.all[0].contains(expected), outcomes.all[0], file: file, line: line)
            let effects = try await client.query("SELECT count(*) AS n FROM \(table)")
            XCTAssertEqual(try effects[0].decode("n", as: Int.self), 0, "the transaction's insert rolled back",
                           file: file, line: line)
            let steps = try await client.query("SELECT count(*) AS n FROM rota.task_steps WHERE task_id = $1::bigint", [id])
            XCTAssertEqual(try steps[0].decode("n", as: Int.self), 0, "no checkpoint", file: file, line: line)
            try await then(client, id)
        }
        await client.close()
    }
}
