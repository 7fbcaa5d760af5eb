/// How many old finished tasks the worker's pruner may delete now: a token bucket of rows.
///
/// Deleting a backlog back to back makes the pruning session a busy process of its own
/// and slows every other session down (`bench/history.sh`), while deleting at the rate
/// tasks finish costs them next to nothing. So tokens accrue at ``floorRate`` rows per
/// second (an idle worker still clears a backlog) plus ``rowsPerFinishedTask`` per task
/// this worker finished, and one batch of ``batch`` rows is deleted per ``batch`` tokens.
/// Pure arithmetic on the instants it is given, so the pacing is tested without a clock.
struct PruneBudget: Sendable {
    /// Rows per `rota.prune` call: short enough a statement that the reaping and schedule
    /// statements sharing its connection wait little behind it.
    static let batch = 1_000
    /// Rows deleted per finished task: each task finished now expires one retention later,
    /// so deleting more than one per task keeps the history bounded under any load, and the
    /// half over one clears a backlog.
    static let rowsPerFinishedTask = 1.5
    /// The most tokens kept: a long wait (a slow call, completions counted in a burst)
    /// allows at most this many rows back to back.
    static let capacity = Double(10 * batch)

    /// Rows per second that accrue whatever the worker finishes.
    let floorRate: Double
    /// Rows that may be deleted now.
    private(set) var tokens: Double
    /// Until when the floor rate has been counted.
    private var accruedUntil: ContinuousClock.Instant
    /// Tokens per second from finished tasks over the latest accrual, to estimate the wait.
    private var finishedRate = 0.0

    /// A budget that allows one batch at once: a worker looks for expired tasks as it
    /// starts, so that a replica starting after downtime catches up at once.
    init(floorRate: Int, now: ContinuousClock.Instant) {
        self.floorRate = Double(max(0, floorRate))
        self.tokens = Double(Self.batch)
        self.accruedUntil = now
    }

    /// Adds the tokens of the time since the last accrual and of `finished` tasks.
    mutating func accrue(finished: Int, now: ContinuousClock.Instant) {
        let elapsed = max(0, (now - accruedUntil).seconds)
        let fromFinished = Double(max(0, finished)) * Self.rowsPerFinishedTask
        if elapsed > 0 { finishedRate = fromFinished / elapsed }
        tokens = min(Self.capacity, tokens + elapsed * floorRate + fromFinished)
        accruedUntil = max(accruedUntil, now)
    }

    /// Whether a batch may be deleted now.
    var allowsBatch: Bool { tokens >= Double(Self.batch) }

    /// How long until the next batch is allowed at the current rates (the floor, plus the
    /// finished tasks' rate of the latest accrual); zero when it is allowed now, nil when
    /// no token accrues (a zero floor while nothing finishes).
    var delayUntilBatch: Duration? {
        let missing = Double(Self.batch) - tokens
        guard missing > 0 else { return .zero }
        let rate = floorRate + finishedRate
        guard rate > 0 else { return nil }
        return .nanoseconds(Int64((missing / rate * 1e9).rounded(.up)))
    }

    /// A call was made (it deleted some rows, at most a batch).
    mutating func spendBatch() {
        tokens -= Double(Self.batch)
    }

    /// After a rest of a prune interval (nothing was due, or the call failed): what
    /// accrued before it is dropped — nothing was due to spend it on, and kept it would
    /// become a burst — and one batch is allowed, the look that ends the rest.
    mutating func resume(now: ContinuousClock.Instant) {
        tokens = Double(Self.batch)
        accruedUntil = now
        finishedRate = 0
    }
}
