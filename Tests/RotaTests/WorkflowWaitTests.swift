import Foundation
import Rota
import RotaTestSupport
import XCTest

/// Durable sleep and waits for children, with an in-process worker against a real
/// database: the slot a sleeper frees, a parent that resumes once after its last child,
/// cancelling a waiting parent, and bad input.
final class WorkflowWaitTests: XCTestCase {
    func database() async throws -> String { try await SharedDatabases.shared.url("rota_test_swift_workflow_wait") }

    struct Kid: Codable, Sendable, Equatable { var n: Int }
    struct Summary: Codable, Sendable, Equatable { var children: Int; var succeeded: Int; var failed: Int }

    func testASleeperFreesItsSlotAndResumesAfterItsTimeWithItsStepsSkipped() async throws {
        let url = try await database()
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("wf_sleep", options: QueueOptions(concurrency: 1))
        let ran = Recorder<String>()
        var handlers = RotaHandlers()
        handlers.register("sleeper") { (_: EmptyPayload, context) -> Kid in
            let before = try await context.step("before") { () -> Kid in
                ran.append("before@\(context.attempt)")
                return Kid(n: 1)
            }
            try await context.sleep(for: .seconds(2))
            ran.append("after-sleep@\(context.attempt)")
            return Kid(n: before.n + 1)
        }
        handlers.register("other") { (_: EmptyPayload, _) in ran.append("other") }
        try await withWorker(url: url, queues: ["wf_sleep": 2], handlers: handlers) { _, _ in
            let sleeper = try await client.enqueue(queue: "wf_sleep", task: "sleeper")
            try await waitUntil("the sleeper sleeps") { try await client.state(of: sleeper) == "queued" && ran.count == 1 }
            let other = try await client.enqueue(queue: "wf_sleep", task: "other")
            try await waitUntil("both succeeded") {
                let sleeperState = try await client.state(of: sleeper)
                let otherState = try await client.state(of: other)
                return sleeperState == "succeeded" && otherState == "succeeded"
            }
            XCTAssertEqual(ran.all, ["before@1", "other", "after-sleep@2"],
                           "the other task ran in the only slot while the sleeper slept; the resumed sleeper skipped its step")
            let row = try await client.query("""
                SELECT s.run_at <= s.started_at AS after_its_time, o.finished_at <= s.started_at AS other_first,
                       s.attempts, s.attempts_refunded, s.result::text AS result
                FROM rota.tasks s, rota.tasks o WHERE s.id = $1::bigint AND o.id = $2::bigint
                """, [sleeper, other])[0]
            XCTAssertEqual(try row.decode("after_its_time", as: Bool.self), true, "resumed at or after its time")
            XCTAssertEqual(try row.decode("other_first", as: Bool.self), true)
            XCTAssertEqual(try row.decode("attempts", as: Int.self), 2)
            XCTAssertEqual(try row.decode("attempts_refunded", as: Int.self), 1, "the sleep spent no attempt")
            XCTAssertEqual(try row.decode("result", as: String.self), #"{"n": 2}"#)
            let found = try await client.task(id: sleeper)
            XCTAssertEqual(try XCTUnwrap(found).steps.map(\.name), ["before", "sleep-1"])
        }
        await client.close()
    }

    func testAParentWithAThousandChildrenResumesOnceAfterTheLastAndSeesEveryChild() async throws {
        let url = try await database()
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("wf_kids", options: QueueOptions(maxAttempts: 1))
        let parentRuns = Recorder<Int>()
        let seen = Recorder<[RotaChildTask]>()
        var handlers = RotaHandlers()
        handlers.register("parent") { (_: EmptyPayload, context) -> Summary in
            parentRuns.append(context.attempt)
            for n in 1...1000 {
                try await context.enqueueChild(task: "kid", payload: Kid(n: n), key: "kid-\(n)")
            }
            let children = try await context.waitForChildren()
            seen.append(children)
            return Summary(children: children.count, succeeded: children.filter { $0.state == .succeeded }.count,
                           failed: children.filter { $0.state == .failed }.count)
        }
        handlers.register("kid") { (kid: Kid, _) -> Kid in
            if kid.n % 100 == 0 { throw RotaTaskError.nonRetryable("kid \(kid.n) refuses") }
            return Kid(n: kid.n * 2)
        }
        try await withWorker(url: url, queues: ["wf_kids": 16], handlers: handlers) { _, _ in
            let parent = try await client.enqueue(queue: "wf_kids", task: "parent", options: EnqueueOptions(key: "family"))
            try await waitUntil("the parent succeeded", timeout: .seconds(120)) {
                try await client.state(of: parent) == "succeeded"
            }
            XCTAssertEqual(parentRuns.all, [1, 2], "one run that waited, one that resumed after the last child")
            let children = try XCTUnwrap(seen.all.first)
            XCTAssertEqual(seen.count, 1)
            XCTAssertEqual(children.count, 1000)
            XCTAssertEqual(Set(children.map(\.key)), Set((1...1000).map { "family/kid-\($0)" }), "keys derived from the parent's")
            XCTAssertTrue(children.allSatisfy { [.succeeded, .failed].contains($0.state) }, "every child ended")
            XCTAssertEqual(children.first { $0.key == "family/kid-7" }?.result, #"{"n": 14}"#)
            XCTAssertEqual(children.first { $0.key == "family/kid-100" }?.lastError, "kid 100 refuses")
            let found = try await client.task(id: parent)
            XCTAssertEqual(try XCTUnwrap(found).result, #"{"failed": 10, "children": 1000, "succeeded": 990}"#)
            let released = try await client.query(
                "SELECT count(*)::int AS n FROM rota.task_attempts WHERE task_id = $1::bigint AND outcome = 'released'",
                [parent])[0].decode("n", as: Int.self)
            XCTAssertEqual(released, 1, "the parent left its worker once")
        }
        await client.close()
    }

    func testCancellingAWaitingParentCancelsItsQueuedChildren() async throws {
        let url = try await database()
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("wf_cancel_parent")
        // children in a queue no worker serves: they stay queued
        try await client.defineQueue("wf_cancel_kids")
        var handlers = RotaHandlers()
        handlers.register("parent") { (_: EmptyPayload, context) in
            for n in 1...3 {
                try await context.enqueueChild(task: "kid", payload: Kid(n: n), key: "\(n)", queue: "wf_cancel_kids")
            }
            _ = try await context.waitForChildren()
        }
        try await withWorker(url: url, queues: ["wf_cancel_parent": 1], handlers: handlers) { _, _ in
            let parent = try await client.enqueue(queue: "wf_cancel_parent", task: "parent")
            try await waitUntil("the parent waits") { try await client.state(of: parent) == "waiting" }
            let answer = try await client.cancel(taskID: parent)
            XCTAssertEqual(answer, "cancelled")
            let states = try await client.query("SELECT state FROM rota.tasks WHERE parent_id = $1::bigint ORDER BY id",
                                                [parent]).map { try $0.decode("state", as: String.self) }
            XCTAssertEqual(states, ["cancelled", "cancelled", "cancelled"])
            let parentState = try await client.state(of: parent)
            XCTAssertEqual(parentState, "cancelled")
        }
        await client.close()
    }

    func testBadWaitsFailTheTaskWithAClearError() async throws {
        let url = try await database()
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("wf_bad_waits", options: QueueOptions(maxAttempts: 1))
        var handlers = RotaHandlers()
        handlers.register("orphan") { (_: EmptyPayload, context) in _ = try await context.waitForChildren() }
        handlers.register("past") { (_: EmptyPayload, context) in
            try await context.sleep(until: Date(timeIntervalSinceNow: -3600))
        }
        handlers.register("far") { (_: EmptyPayload, context) in try await context.sleep(for: .seconds(400 * 86_400)) }
        try await withWorker(url: url, queues: ["wf_bad_waits": 3], handlers: handlers) { _, _ in
            var ids: [String: Int64] = [:]
            for task in ["orphan", "past", "far"] { ids[task] = try await client.enqueue(queue: "wf_bad_waits", task: task) }
            for (task, id) in ids {
                try await waitUntil("\(task) failed") { try await client.state(of: id) == "failed" }
            }
            func lastError(_ task: String) async throws -> String {
                let found = try await client.task(id: ids[task]!)
                return try XCTUnwrap(found?.lastError)
            }
            let orphan = try await lastError("orphan")
            XCTAssertTrue(orphan.contains("has no children to wait for"), orphan)
            let past = try await lastError("past")
            XCTAssertTrue(past.contains("rota.sleep: until must be between now and 1 year ahead"), past)
            let far = try await lastError("far")
            XCTAssertTrue(far.contains("rota.sleep: until must be between now and 1 year ahead"), far)
            let steps = try await client.query(
                "SELECT count(*)::int AS n FROM rota.task_steps WHERE task_id = ANY ($1::bigint[])",
                [Array(ids.values)])[0].decode("n", as: Int.self)
            XCTAssertEqual(steps, 0, "a refused sleep records nothing")
        }
        await client.close()
    }
}
