import Foundation
import Rota
import RotaTestSupport
import XCTest

/// ``TaskContext/completeInTransaction(_:)`` with an in-process worker against a real
/// database: the handler's writes and the completion commit together, a fenced-off attempt
/// commits neither, an error inside rolls both back, and the worker writes no outcome of its
/// own after a committed completion.
final class WorkflowCompletionTests: XCTestCase {
    struct Receipt: Codable, Sendable, Equatable { var charged: Int64 }

    /// A database shared by this class, counting calls of rota's functions
    /// (`pg_stat_user_functions`), so a test can see which outcome statements the worker sent.
    func database() async throws -> String {
        let url = try await SharedDatabases.shared.url("rota_test_swift_completion")
        let client = RotaClient(connectionString: url)
        try await countFunctionCalls(client)
        try await client.query("CREATE TABLE IF NOT EXISTS charges (task_id bigint PRIMARY KEY, attempt int NOT NULL)")
        await client.close()
        return url
    }

    func fastRetries(_ maxAttempts: Int = 3) -> QueueOptions {
        QueueOptions(maxAttempts: maxAttempts, backoffBase: .milliseconds(10), backoffMax: .milliseconds(50))
    }

    func testTheHandlersWritesAndTheCompletionCommitTogetherAndTheWorkerCompletesNothingElse() async throws {
        let url = try await database()
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("cit_commit", options: fastRetries())
        let outcomeFunctions = ["complete_in_transaction", "complete_many", "fail_many"]
        let before = try await functionCalls(client, outcomeFunctions)
        var handlers = RotaHandlers()
        handlers.register("charge") { (_: EmptyPayload, context) -> Receipt in
            let receipt = try await context.completeInTransaction { tx -> Receipt in
                try await tx.query("INSERT INTO charges VALUES ($1::bigint, $2::int)", [context.taskID, context.attempt])
                let rows = try await tx.query("SELECT count(*) AS n FROM charges WHERE task_id = $1::bigint", [context.taskID])
                return Receipt(charged: try rows[0].decode("n"))
            }
            // Past the commit the attempt owns nothing: this step throws `fencedOff`, and the
            // worker still writes no outcome.
            _ = try await context.step("after-the-completion") { receipt }
            return receipt
        }
        var id: Int64 = 0
        try await withWorker(url: url, queues: ["cit_commit": 1], handlers: handlers) { _, _ in
            id = try await client.enqueue(queue: "cit_commit", task: "charge")
            try await waitUntil("the task succeeded") { try await client.state(of: id) == "succeeded" }
        }
        let found = try await client.task(id: id)
        let task = try XCTUnwrap(found)
        XCTAssertEqual(task.result, #"{"charged": 1}"#, "the result the closure returned, stored with its write")
        XCTAssertEqual(task.attemptCount, 1)
        XCTAssertNil(task.lastError)
        let charges = try await client.query("SELECT attempt FROM charges WHERE task_id = $1::bigint", [id])
        XCTAssertEqual(try charges.map { try $0.decode("attempt", as: Int.self) }, [1])
        let after = try await functionCalls(client, outcomeFunctions)
        let sent = outcomeFunctions.map { (after[$0] ?? 0) - (before[$0] ?? 0) }
        XCTAssertEqual(sent, [1, 0, 0], "one completion in the transaction; no complete_many or fail_many from the worker")
        await client.close()
    }

    func testAnErrorInsideTheTransactionRollsBackTheWritesAndTheCompletion() async throws {
        let url = try await database()
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("cit_error", options: fastRetries(2))
        struct OutOfStock: Error, CustomStringConvertible { var description: String { "out of stock" } }
        var handlers = RotaHandlers()
        handlers.register("charge") { (_: EmptyPayload, context) -> Receipt in
            try await context.completeInTransaction { tx -> Receipt in
                try await tx.query("INSERT INTO charges VALUES ($1::bigint, $2::int)", [context.taskID, context.attempt])
                throw OutOfStock()
            }
        }
        try await withWorker(url: url, queues: ["cit_error": 1], handlers: handlers) { _, _ in
            let id = try await client.enqueue(queue: "cit_error", task: "charge")
            try await waitUntil("the task failed") { try await client.state(of: id) == "failed" }
            let found = try await client.task(id: id)
            let task = try XCTUnwrap(found)
            XCTAssertEqual(task.attemptCount, 2, "each attempt failed and was retried as usual")
            XCTAssertEqual(task.lastError, "out of stock")
            XCTAssertNil(task.result)
            let charges = try await client.query("SELECT count(*) AS n FROM charges WHERE task_id = $1::bigint", [id])
            XCTAssertEqual(try charges[0].decode("n", as: Int.self), 0, "both attempts' inserts rolled back")
        }
        await client.close()
    }

    func testACompletionOfAnAttemptThatLostItsTaskCommitsNothing() async throws {
        try await FencedTransaction.assertCommitsNothing(
            url: try await database(), queue: "cit_fence", message: "the completion: attempt 1 of task %ID% no longer owns the task",
            run: { context, body in _ = try await context.completeInTransaction(body) },
            interruptedBy: FencedTransaction.takeOver(by: "cit-fence-thief", queue: "cit_fence"),
            then: { client, id in
                let found = try await client.task(id: id)
                let task = try XCTUnwrap(found)
                XCTAssertEqual(task.state, .running, "neither completed nor failed by the fenced attempt")
                XCTAssertEqual(task.executor, "cit-fence-thief", "the new owner keeps the task")
            })
    }

    func testACompletionOfACancelledTaskCommitsNothingAndTheTaskEndsCancelled() async throws {
        try await FencedTransaction.assertCommitsNothing(
            url: try await database(), queue: "cit_cancel", message: "the completion: attempt 1 of task %ID% no longer owns the task",
            run: { context, body in _ = try await context.completeInTransaction(body) },
            interruptedBy: { client, id in
                let state = try await client.cancel(taskID: id)
                XCTAssertEqual(state, "cancelling")
            },
            then: { client, id in
                try await waitUntil("the task was cancelled") { try await client.state(of: id) == "cancelled" }
                let found = try await client.task(id: id)
                XCTAssertNil(try XCTUnwrap(found).result)
            })
    }
}
