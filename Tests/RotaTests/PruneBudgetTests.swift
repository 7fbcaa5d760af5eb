import XCTest
@testable import Rota

/// The pacing of the worker's pruner (``PruneBudget``), on instants the test chooses: one
/// batch at start, then the floor rate plus 1.5 rows per finished task, capped, and one
/// batch after each rest.
final class PruneBudgetTests: XCTestCase {
    private let start = ContinuousClock.now
    private let batch = PruneBudget.batch

    private func at(_ seconds: Double) -> ContinuousClock.Instant {
        start + .milliseconds(Int64(seconds * 1000))
    }

    func testTheFirstBatchIsAllowedAtOnce() {
        let budget = PruneBudget(floorRate: 2_000, now: start)
        XCTAssertTrue(budget.allowsBatch)
        XCTAssertEqual(budget.delayUntilBatch, .zero)
    }

    func testTheFloorAllowsOneBatchPerBatchOfItsRate() {
        var budget = PruneBudget(floorRate: 2_000, now: start)
        budget.spendBatch()
        XCTAssertFalse(budget.allowsBatch)
        XCTAssertEqual(budget.delayUntilBatch, .milliseconds(500))
        budget.accrue(finished: 0, now: at(0.4))
        XCTAssertFalse(budget.allowsBatch)
        budget.accrue(finished: 0, now: at(0.5))
        XCTAssertTrue(budget.allowsBatch)
        budget.spendBatch()
        XCTAssertFalse(budget.allowsBatch)
    }

    func testEachFinishedTaskAddsOneAndAHalfRows() {
        var budget = PruneBudget(floorRate: 0, now: start)
        budget.spendBatch()
        XCTAssertNil(budget.delayUntilBatch, "no floor and nothing finished: no batch is ever due")
        budget.accrue(finished: 666, now: at(1))
        XCTAssertFalse(budget.allowsBatch, "666 tasks are 999 rows")
        budget.accrue(finished: 1, now: at(1))
        XCTAssertTrue(budget.allowsBatch, "667 tasks are 1,000.5 rows")
        budget.accrue(finished: 2 * 667, now: at(1))
        XCTAssertEqual(budget.tokens, 3_001.5, accuracy: 1e-9)
    }

    func testTheWaitCountsTheFinishedTasksOfTheLatestAccrual() {
        var budget = PruneBudget(floorRate: 1_000, now: start)
        budget.spendBatch()
        // 200 tasks in 0.2 s: 300 rows, 1,500 rows/s on top of the floor's 1,000.
        budget.accrue(finished: 200, now: at(0.2))
        XCTAssertEqual(budget.tokens, 500, accuracy: 1e-9)
        XCTAssertEqual(budget.delayUntilBatch?.seconds ?? 0, 0.2, accuracy: 1e-6)
    }

    func testTheBucketHoldsAtMostTenBatches() {
        var budget = PruneBudget(floorRate: 2_000, now: start)
        budget.accrue(finished: 1_000_000, now: at(3_600))
        XCTAssertEqual(budget.tokens, PruneBudget.capacity)
        var batches = 0
        while budget.allowsBatch {
            budget.spendBatch()
            batches += 1
        }
        XCTAssertEqual(batches, 10)
    }

    func testAResumeAfterARestAllowsOnlyTheLookThatEndsIt() {
        var budget = PruneBudget(floorRate: 2_000, now: start)
        budget.accrue(finished: 5_000, now: at(2))
        XCTAssertGreaterThan(budget.tokens, Double(2 * batch))
        // A call that deleted nothing, then a rest of a minute in which the worker finished more tasks:
        // neither the tokens left nor the minute nor those tasks become a burst.
        budget.resume(now: at(62))
        XCTAssertTrue(budget.allowsBatch)
        budget.spendBatch()
        XCTAssertFalse(budget.allowsBatch)
        XCTAssertEqual(budget.delayUntilBatch, .milliseconds(500), "paced by the floor alone again")
        budget.accrue(finished: 0, now: at(62.5))
        XCTAssertTrue(budget.allowsBatch)
    }

    func testANegativeFloorCountsAsZero() {
        var budget = PruneBudget(floorRate: -5, now: start)
        budget.spendBatch()
        budget.accrue(finished: 0, now: at(3_600))
        XCTAssertEqual(budget.tokens, 0)
    }

    /// The loop's use of the budget, simulated: accrue, delete while allowed, else wait the
    /// budget's delay. Over 20 s at a floor of 1,000 rows/s while 1,000 tasks/s finish, it
    /// deletes the first look plus (1,000 + 1,500) × 20 rows — no more, whatever the steps.
    func testASimulatedLoopDeletesAtTheFloorPlusOneAndAHalfPerFinishedTask() {
        var budget = PruneBudget(floorRate: 1_000, now: start)
        var now = 0.0
        var lastAccrual = 0.0
        var deleted = 0
        while now <= 20 {
            budget.accrue(finished: Int(((now - lastAccrual) * 1_000).rounded()), now: at(now))
            lastAccrual = now
            if budget.allowsBatch {
                budget.spendBatch()
                deleted += batch
                now += 0.03  // a prune call takes time too
            } else {
                now += min(budget.delayUntilBatch?.seconds ?? 1, 1)
            }
        }
        XCTAssertLessThanOrEqual(deleted, batch + 2_500 * 20)
        XCTAssertGreaterThanOrEqual(deleted, batch + 2_500 * 20 - 2 * batch)
    }
}
