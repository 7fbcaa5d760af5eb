import Logging
import Synchronization

/// Collects handler outcomes and writes them with `rota.complete_many` / `rota.fail_many`,
/// many per statement: an outcome that comes after a quiet spell (no write begun within the
/// gathering window) is written at once; while outcomes keep coming, each write waits out
/// the window first, so that they share it.
///
/// A batch that cannot be written because the database is away is kept and written again
/// once it is back: a finished handler's result is never dropped on a connection error.
/// (If the lease was lost meanwhile, the attempt fence rejects it, which is correct.)
final class CompletionBatcher: Sendable {
    /// The outcome of a claim: its task id, attempt (the fence) and lease token (the proof).
    enum Outcome: Sendable {
        case completed(id: Int64, attempt: Int, token: String, result: String?)
        case failed(id: Int64, attempt: Int, token: String, error: String, retryIn: Duration?, retryable: Bool)
    }

    private struct State {
        var pending: [Outcome] = []
        var flushing = 0
    }

    private let state = Mutex(State())
    private let wake = WakeSignal()
    private let statements: Statements
    private let window: Duration
    private let maxBatch: Int
    private let backoff: Backoff
    private let logger: Logger
    /// Called after each written batch with how many tasks it finished (succeeded, failed
    /// for good, cancelled): retried and fenced-off outcomes finish nothing.
    private let onFlushed: @Sendable (_ finished: Int) -> Void

    init(statements: Statements, window: Duration, maxBatch: Int, backoff: Backoff,
         logger: Logger, onFlushed: @escaping @Sendable (_ finished: Int) -> Void) {
        self.statements = statements
        self.window = window
        self.maxBatch = max(1, maxBatch)
        self.backoff = backoff
        self.logger = logger
        self.onFlushed = onFlushed
    }

    func add(_ outcome: Outcome) {
        state.withLock { $0.pending.append(outcome) }
        wake.signal()
    }

    /// Nothing waiting and nothing being written.
    var isIdle: Bool { state.withLock { $0.pending.isEmpty && $0.flushing == 0 } }

    /// Writes outcomes until the task is cancelled.
    func run() async {
        var failures = 0
        var lastWrite: ContinuousClock.Instant?
        while !Task.isCancelled {
            if failures == 0 {
                await wake.wait(timeout: .seconds(1))
            } else {
                await wake.wait(timeout: backoff.delay(afterAttempt: failures - 1))
            }
            if state.withLock({ $0.pending.isEmpty }) { continue }
            // A lone outcome (a request waiting for its task's end) is not held back; under
            // load, each write carries the outcomes of a window instead of a few.
            if let lastWrite, ContinuousClock.now - lastWrite < window {
                try? await Task.sleep(for: window)
            }
            lastWrite = ContinuousClock.now
            let batch = state.withLock { state -> [Outcome] in
                let batch = Array(state.pending.prefix(maxBatch))
                state.pending.removeFirst(batch.count)
                state.flushing += 1
                return batch
            }
            do {
                let finished = try await write(batch)
                failures = 0
                state.withLock { $0.flushing -= 1 }
                onFlushed(finished)
                if !state.withLock({ $0.pending.isEmpty }) { wake.signal() }
            } catch {
                state.withLock { state in
                    state.pending.insert(contentsOf: batch, at: 0)
                    state.flushing -= 1
                }
                if failures == 0 {
                    logger.warning("cannot write task outcomes yet, will retry",
                                   metadata: ["count": "\(batch.count)", "error": "\(error)"])
                }
                failures += 1
            }
        }
    }

    /// Waits until everything added so far is written, or `timeout` passes.
    func drain(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !isIdle {
            if ContinuousClock.now >= deadline || Task.isCancelled { return false }
            wake.signal()
            try? await Task.sleep(for: .milliseconds(5))
        }
        return true
    }

    /// Writes a batch and returns how many tasks it finished; connection errors and lost
    /// deadlocks propagate (the batch is retried: a child's completion can deadlock with its
    /// parent's cancellation), other errors are narrowed down to the one outcome at fault,
    /// which is failed or dropped with a log.
    private func write(_ batch: [Outcome]) async throws -> Int {
        do {
            return try await writeStatements(batch)
        } catch let error as RotaError where !error.isConnectionError && !error.isTransientConflict {
            guard batch.count > 1 else { return try await handleRejected(batch[0], error) }
            var finished = 0
            for outcome in batch {
                do {
                    finished += try await writeStatements([outcome])
                } catch let error as RotaError where !error.isConnectionError && !error.isTransientConflict {
                    finished += try await handleRejected(outcome, error)
                }
            }
            return finished
        }
    }

    private func handleRejected(_ outcome: Outcome, _ error: RotaError) async throws -> Int {
        switch outcome {
        case .completed(let id, let attempt, let token, _):
            // e.g. a result over the size limit: the task fails for good with the reason.
            logger.error("result rejected, failing the task", metadata: ["task": "\(id)", "error": "\(error)"])
            return try await writeStatements([.failed(id: id, attempt: attempt, token: token,
                                                      error: "result rejected: \(error.message)", retryIn: nil,
                                                      retryable: false)])
        case .failed(let id, _, _, _, _, _):
            logger.error("failure outcome rejected, dropped", metadata: ["task": "\(id)", "error": "\(error)"])
            return 0
        }
    }

    /// Returns how many tasks the statements finished.
    private func writeStatements(_ batch: [Outcome]) async throws -> Int {
        var completeIDs: [Int64] = [], completeAttempts: [Int] = [], completeTokens: [String] = []
        var results: [PostgresJSON?] = []
        var failIDs: [Int64] = [], failAttempts: [Int] = [], failTokens: [String] = [], errors: [String] = []
        var retryIns: [PostgresInterval?] = [], retryables: [Bool] = []
        for outcome in batch {
            switch outcome {
            case .completed(let id, let attempt, let token, let result):
                completeIDs.append(id)
                completeAttempts.append(attempt)
                completeTokens.append(token)
                results.append(result.map { PostgresJSON(text: $0) })
            case .failed(let id, let attempt, let token, let error, let retryIn, let retryable):
                failIDs.append(id)
                failAttempts.append(attempt)
                failTokens.append(token)
                errors.append(error)
                retryIns.append(retryIn.map(PostgresInterval.init))
                retryables.append(retryable)
            }
        }
        var finished = 0
        if !completeIDs.isEmpty {
            finished += try await statements.completeMany(ids: completeIDs, attempts: completeAttempts,
                                                          results: results, tokens: completeTokens)
        }
        if !failIDs.isEmpty {
            finished += try await statements.failMany(ids: failIDs, attempts: failAttempts, errors: errors,
                                                      retryIns: retryIns, retryables: retryables, tokens: failTokens)
        }
        return finished
    }
}
