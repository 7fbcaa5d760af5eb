import Foundation
import Rota
import RotaTestSupport
import RotaExamples
import XCTest

/// The fan-out helper (Sources/Rota/Worker/FanOut.swift) against a real database.
final class FanOutTests: XCTestCase {
    struct Item: Codable, Sendable, Hashable { var n: Int }

    func testChildKeysDeriveFromTheParentKeyOrId() async throws {
        let fixture = try await ExamplesFixture.make(for: self)
        let keyed = FanOut(client: fixture.client, parentID: 7, parentKey: "schedule:s:2026-11-01T00:00:00Z")
        XCTAssertEqual(keyed.taskKey(for: "a"), "fire:s:2026-11-01T00:00:00Z/a", "schedule: keys are the scheduler's")
        let userKeyed = FanOut(client: fixture.client, parentID: 7, parentKey: "import:42")
        XCTAssertEqual(userKeyed.taskKey(for: "a"), "import:42/a")
        XCTAssertEqual(keyed.taskKey(for: "a", scope: .global), "a")
        let unkeyed = FanOut(client: fixture.client, parentID: 7, parentKey: nil)
        XCTAssertEqual(unkeyed.taskKey(for: "a"), "task:7/a")
    }

    func testBatchesKeepInputOrderSetTheParentAndARetryCreatesNothing() async throws {
        let fixture = try await ExamplesFixture.make(for: self)
        try await fixture.client.defineQueue("fan")
        let parent = try await fixture.client.enqueue(queue: "fan", task: "parent")
        let fanOut = FanOut(client: fixture.client, parentID: parent, parentKey: nil, batchSize: 3)
        let children = (1...10).map { FanOut.Child(key: "child-\($0)", payload: Item(n: $0)) }

        let ids = try await fanOut.enqueue(queue: "fan", task: "child", children: children)
        XCTAssertEqual(ids.count, 10)
        XCTAssertEqual(Set(ids).count, 10)
        let rows = try await fixture.client.query(
            "SELECT id, key, parent_id, (payload->>'n')::int AS n FROM rota.tasks WHERE task = 'child' ORDER BY id")
        XCTAssertEqual(rows.count, 10)
        for row in rows {
            let id: Int64 = try row.decode("id")
            let n: Int = try row.decode("n")
            XCTAssertEqual(ids[n - 1], id, "ids come back in input order")
            XCTAssertEqual(try row.decode("key", as: String.self), "task:\(parent)/child-\(n)")
            XCTAssertEqual(try row.decode("parent_id", as: Int64.self), parent)
        }

        // The parent runs again (a retry): the same children, no new tasks.
        let again = try await fanOut.enqueue(queue: "fan", task: "child", children: children)
        XCTAssertEqual(again, ids)
        let total = try await fixture.count("SELECT count(*) FROM rota.tasks WHERE task = 'child'")
        XCTAssertEqual(total, 10)
    }

    func testARetryAfterAPartialFanOutAddsOnlyTheMissingChildren() async throws {
        let fixture = try await ExamplesFixture.make(for: self)
        try await fixture.client.defineQueue("fan")
        let parent = try await fixture.client.enqueue(queue: "fan", task: "parent", options: EnqueueOptions(key: "p1"))
        let fanOut = FanOut(client: fixture.client, parentID: parent, parentKey: "p1", batchSize: 4)
        let children = (1...9).map { FanOut.Child(key: "c\($0)", payload: Item(n: $0)) }

        // The first attempt got through its first batch only.
        let firstBatch = try await fanOut.enqueue(queue: "fan", task: "child", children: Array(children.prefix(4)))
        let all = try await fanOut.enqueue(queue: "fan", task: "child", children: children)
        XCTAssertEqual(Array(all.prefix(4)), firstBatch)
        let total = try await fixture.count("SELECT count(*) FROM rota.tasks WHERE task = 'child'")
        XCTAssertEqual(total, 9)
    }

    func testInvalidChildKeysAreRejectedBeforeAnythingIsEnqueued() async throws {
        let fixture = try await ExamplesFixture.make(for: self)
        try await fixture.client.defineQueue("fan")
        let fanOut = FanOut(client: fixture.client, parentID: 1, parentKey: nil, batchSize: 1)
        let duplicate = [FanOut.Child(key: "x", payload: Item(n: 1)), FanOut.Child(key: "y", payload: Item(n: 2)),
                         FanOut.Child(key: "x", payload: Item(n: 3))]
        do {
            try await fanOut.enqueue(queue: "fan", task: "child", children: duplicate)
            XCTFail("duplicate child keys must be rejected")
        } catch let error as RotaError {
            XCTAssertEqual(error.code, .invalidArgument)
        }
        let tooLong = [FanOut.Child(key: String(repeating: "k", count: 600), payload: Item(n: 1))]
        do {
            try await fanOut.enqueue(queue: "fan", task: "child", children: tooLong)
            XCTFail("a key over 512 characters must be rejected")
        } catch let error as RotaError {
            XCTAssertEqual(error.code, .invalidArgument)
        }
        let total = try await fixture.count("SELECT count(*) FROM rota.tasks")
        XCTAssertEqual(total, 0)
    }
}
