import Logging

/// Retries an operation while the database cannot be reached yet (the server is starting,
/// the network of a starting compose project is not up), with backoff, saying so: the first
/// failure is logged at warning level with its reason, then again every ``reportInterval``.
/// Failures that waiting does not fix (``PostgresError/isPermanentConnectionFailure``) and
/// every other error are thrown at once.
public struct ConnectionRetry: Sendable {
    /// Delays between attempts.
    public var backoff: Backoff
    /// How often a failure that goes on is logged again.
    public var reportInterval: Duration = .seconds(30)
    /// Where failures are reported.
    public var logger: Logger

    /// A retry policy that logs to `logger`.
    public init(backoff: Backoff = .standard, logger: Logger) {
        self.backoff = backoff
        self.logger = logger
    }

    /// Runs `operation` until it succeeds (its result), throws an error other than a
    /// transient connection error (thrown), or `shouldStop` returns true before an attempt (nil).
    public func run<Result: Sendable>(_ action: String, shouldStop: () -> Bool = { false },
                                      _ operation: () async throws -> Result) async throws -> Result? {
        let clock = ContinuousClock()
        var attempt = 0
        var lastReport: ContinuousClock.Instant?
        while !shouldStop() {
            do {
                let result = try await operation()
                if attempt > 0 { logger.info("reached the database", metadata: ["attempts": "\(attempt + 1)"]) }
                return result
            } catch let error as RotaError where error.isConnectionError && !error.isPermanentConnectionFailure {
                if lastReport == nil {
                    logger.warning("cannot reach the database to \(action), retrying", metadata: ["error": "\(error)"])
                    lastReport = clock.now
                } else if let last = lastReport, clock.now - last >= reportInterval {
                    logger.warning("still cannot reach the database to \(action), retrying",
                                   metadata: ["error": "\(error)", "attempts": "\(attempt + 1)"])
                    lastReport = clock.now
                }
                try await Task.sleep(for: backoff.delay(afterAttempt: attempt))
                attempt += 1
            }
        }
        return nil
    }
}
