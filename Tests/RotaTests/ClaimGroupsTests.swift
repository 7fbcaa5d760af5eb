import XCTest
@testable import Rota

/// The claim statements of one look for work (``ClaimGroups``): which queues each names and
/// how many tasks it may take, without looking at every queue while none is missing.
final class ClaimGroupsTests: XCTestCase {
    private let none = MissingQueues(backoff: Backoff(initial: .seconds(1), maximum: .seconds(60)))

    func testAnIdleWorkerClaimsAllItsQueuesInOneStatementUpToTheSmallestCapacity() {
        let groups = ClaimGroups(capacity: ["b": 16, "a": 16, "c": 4]).groups(running: [:], missing: none)
        XCTAssertEqual(groups, [.init(queues: ["a", "b", "c"], max: 4)])
    }

    func testABusyQueueGoesToAStatementOfItsOwnAndAFullOneToNone() {
        let claims = ClaimGroups(capacity: ["a": 16, "b": 16, "c": 16, "d": 16])
        // a: 4 running (roomy, 12 free); b: 10 running (tight, 6 free); c: full; d: idle
        let groups = claims.groups(running: ["a": 4, "b": 10, "c": 16], missing: none)
        XCTAssertEqual(groups, [.init(queues: ["a", "d"], max: 12), .init(queues: ["b"], max: 6)])
    }

    func testEveryQueueFullGivesNoStatement() {
        let groups = ClaimGroups(capacity: ["a": 2, "b": 1]).groups(running: ["a": 2, "b": 1], missing: none)
        XCTAssertEqual(groups, [])
    }

    func testTheSmallestCapacityCountsOnlyForQueuesThatCanStillTakeIt() {
        // c (capacity 4) is tight with 1 free: the roomy statement may take a's and b's 16
        let groups = ClaimGroups(capacity: ["a": 16, "b": 16, "c": 4]).groups(running: ["c": 3], missing: none)
        XCTAssertEqual(groups, [.init(queues: ["a", "b"], max: 16), .init(queues: ["c"], max: 1)])
    }

    func testRunningTasksOfQueuesTheWorkerDoesNotServeAreIgnored() {
        let groups = ClaimGroups(capacity: ["a": 8]).groups(running: ["direct-only": 3], missing: none)
        XCTAssertEqual(groups, [.init(queues: ["a"], max: 8)])
    }

    func testAMissingQueueIsClaimedOnItsOwnWhenDueAndLeftOutOtherwise() {
        var missing = none
        _ = missing.failed("b")  // missing, looked for again after the backoff
        let claims = ClaimGroups(capacity: ["a": 16, "b": 16, "c": 16])
        XCTAssertEqual(claims.groups(running: ["c": 12], missing: missing),
                       [.init(queues: ["a"], max: 16), .init(queues: ["c"], max: 4)])
        var due = MissingQueues(backoff: Backoff(initial: .zero, maximum: .zero))
        _ = due.failed("b")
        XCTAssertEqual(claims.groups(running: ["c": 12], missing: due),
                       [.init(queues: ["a"], max: 16), .init(queues: ["c"], max: 4), .init(queues: ["b"], max: 16)])
    }
}
