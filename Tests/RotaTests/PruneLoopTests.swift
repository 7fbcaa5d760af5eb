import Rota
import RotaTestSupport
import XCTest

/// The worker's pruner against a real database: it clears a backlog of expired finished
/// tasks from its start on, looks again after the prune interval, never deletes faster than
/// its budget allows, and deletes 1.5 rows for every task it finishes (succeeded or failed).
final class PruneLoopTests: XCTestCase {
    /// `count` succeeded tasks of `queue` finished 8 days ago: past the default retention (7 days).
    private func insertExpired(_ count: Int, queue: String, client: RotaClient) async throws {
        _ = try await client.query("""
            INSERT INTO rota.tasks (queue, task, payload, state, priority, run_at, attempts, max_attempts,
                                    executor, enqueued_at, started_at, finished_at)
            SELECT $1::text, 'old', '{}', 'succeeded', 0, ts, 1, 5, 'test-prefill', ts, ts, ts
            FROM (SELECT now() - interval '8 days' AS ts FROM generate_series(1, $2::int)) AS s
            """, [queue, count])
    }

    /// The finished tasks of `queue` past its retention.
    private func expired(queue: String, client: RotaClient) async throws -> Int {
        try await client.query("""
            SELECT count(*)::int AS n FROM rota.tasks t JOIN rota.queues q ON q.name = t.queue
            WHERE t.queue = $1::text AND t.finished_at < now() - q.retention
            """, [queue])[0].decode("n")
    }

    func testABacklogIsDeletedFromTheStartAndNewlyExpiredTasksAfterTheInterval() async throws {
        let url = try await TestEnvironment.freshDatabase("rota_test_swift_prune_backlog")
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("p_backlog")
        try await insertExpired(20_000, queue: "p_backlog", client: client)
        try await withWorker(url: url, queues: ["p_backlog": 1], handlers: RotaHandlers(), configure: {
            $0.pruneRate = 1_000_000  // the bucket's cap, 10 batches, is what paces it
            $0.pruneInterval = .milliseconds(200)
        }) { _, _ in
            // 20 batches: the pruner keeps going while its calls delete rows.
            try await waitUntil("the backlog of 20,000 expired tasks was deleted") {
                try await expired(queue: "p_backlog", client: client) == 0
            }
            // The last call deleted nothing: the worker rests for the interval and looks again.
            try await insertExpired(3_000, queue: "p_backlog", client: client)
            try await waitUntil("tasks that expired later were deleted after the interval") {
                try await expired(queue: "p_backlog", client: client) == 0
            }
        }
        await client.close()
    }

    /// Deletions at a floor of 1,000 rows/s with nothing finishing: the first look (one
    /// batch) at start, then a batch per second. Each sample asserts an upper bound,
    /// deleted ≤ 1,000 + 1,000 × (seconds since before the worker started): a loaded machine
    /// only makes the pruner slower, and the bound only grows with the time a sample takes,
    /// so it cannot fail by load, while a burst (the old loop deleted 10,000-row batches
    /// back to back) exceeds it within its first second. The interval is an hour, so all
    /// 10,000 rows going shows that the first look is at start and that the batches
    /// continue while they come back full.
    func testWithoutFinishedTasksThePrunerDeletesNoFasterThanItsFloor() async throws {
        let url = try await TestEnvironment.freshDatabase("rota_test_swift_prune_paced")
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("p_paced")
        let total = 10_000
        try await insertExpired(total, queue: "p_paced", client: client)
        var overBudget: [String] = []
        var samples = 0
        var partlyDeleted = 0
        let started = ContinuousClock.now
        try await withWorker(url: url, queues: ["p_paced": 1], handlers: RotaHandlers(), configure: {
            $0.pruneRate = 1_000
            $0.pruneInterval = .seconds(3600)
        }) { _, _ in
            try await waitUntil("all 10,000 expired tasks were deleted", timeout: .seconds(120),
                                every: .milliseconds(50)) {
                let left = try await expired(queue: "p_paced", client: client)
                let elapsed = ContinuousClock.now - started
                let allowed = 1_000 + 1_000 * (Double(elapsed.components.seconds)
                                               + Double(elapsed.components.attoseconds) / 1e18)
                samples += 1
                if left > 0 && left < total { partlyDeleted += 1 }
                if Double(total - left) > allowed {
                    overBudget.append("\(total - left) deleted after \(elapsed) (allowed: \(Int(allowed)))")
                }
                return left == 0
            }
        }
        XCTAssertEqual(overBudget, [], "deleted faster than 1,000 rows/s")
        // A non-vacuous run: the samples saw the deletion in progress, not only its end.
        XCTAssertGreaterThan(partlyDeleted, 5, "\(samples) samples")
        await client.close()
    }

    /// With no floor, only finished tasks buy deletions: the first look deletes 1,000 of
    /// 3,000 expired tasks, and the other 2,000 go only because the worker finishes 2,000
    /// tasks (3,000 rows' worth), half of them succeeded and half failed for good.
    func testFinishedTasksBuyOneAndAHalfRowsEach() async throws {
        let url = try await TestEnvironment.freshDatabase("rota_test_swift_prune_finished")
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("p_finished")
        try await insertExpired(3_000, queue: "p_finished", client: client)
        struct Numbered: Codable, Sendable { var n: Int }
        var handlers = RotaHandlers()
        handlers.register("half_fail") { (payload: Numbered, _) in
            if payload.n % 2 == 1 { throw RotaTaskError.nonRetryable("odd") }
        }
        try await withWorker(url: url, queues: ["p_finished": 16], handlers: handlers, configure: {
            $0.pruneRate = 0
            $0.pruneInterval = .seconds(3600)
        }) { _, _ in
            try await waitUntil("the first look deleted one batch") {
                try await expired(queue: "p_finished", client: client) == 2_000
            }
            _ = try await client.enqueueMany(queue: "p_finished", task: "half_fail",
                                             payloads: (0..<2_000).map { Numbered(n: $0) })
            try await waitUntil("1,000 tasks succeeded and 1,000 failed", timeout: .seconds(60)) {
                let states = try await client.query("""
                    SELECT count(*) FILTER (WHERE state = 'succeeded')::int AS succeeded,
                           count(*) FILTER (WHERE state = 'failed')::int AS failed
                    FROM rota.tasks WHERE queue = 'p_finished' AND task = 'half_fail'
                    """)[0]
                return try states.decode("succeeded", as: Int.self) == 1_000
                    && states.decode("failed", as: Int.self) == 1_000
            }
            // The successes alone buy 1,500 rows, one batch: the failures must count too.
            try await waitUntil("the rest of the backlog was deleted") {
                try await expired(queue: "p_finished", client: client) == 0
            }
        }
        await client.close()
    }
}
