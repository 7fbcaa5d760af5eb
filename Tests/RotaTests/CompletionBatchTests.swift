import Foundation
import Rota
import RotaTestSupport
import XCTest

/// The worker's completion batches against a real database: a result that comes after a
/// quiet spell is written at once, and results that follow it within the gathering window
/// wait out the window and share one `rota.complete_many`.
final class CompletionBatchTests: XCTestCase {
    func testALoneResultIsWrittenAtOnceAndTheResultsThatFollowItShareOneStatement() async throws {
        let url = try await SharedDatabases.shared.url("rota_test_swift_completion_batch")
        let client = RotaClient(connectionString: url)
        try await countFunctionCalls(client)
        try await client.defineQueue("batches")
        let before = try await functionCalls(client, ["complete_many"])["complete_many"] ?? 0
        var handlers = RotaHandlers()
        handlers.register("noop") { (_: EmptyPayload, _) in }
        // Long enough that a write held back by the window would miss the first wait below.
        let window = Duration.seconds(8)
        try await withWorker(url: url, queues: ["batches": 4], handlers: handlers,
                             configure: { $0.completionBatchWindow = window }) { _, _ in
            let first = try await client.enqueue(queue: "batches", task: "noop")
            try await waitUntil("the lone task's result is written, well within the window", timeout: .seconds(6)) {
                try await client.state(of: first) == "succeeded"
            }
            let rest = try await client.enqueueMany(queue: "batches", task: "noop",
                                                    payloads: [EmptyPayload(), EmptyPayload(), EmptyPayload()])
            try await waitUntil("the three that followed succeeded", timeout: .seconds(60)) {
                var states: [String?] = []
                for id in rest { states.append(try await client.state(of: id)) }
                return states.allSatisfy { $0 == "succeeded" }
            }
        }
        let after = try await functionCalls(client, ["complete_many"])["complete_many"] ?? 0
        XCTAssertEqual(after - before, 2, "one statement for the lone result, one for the three that came within the window")
        await client.close()
    }
}
