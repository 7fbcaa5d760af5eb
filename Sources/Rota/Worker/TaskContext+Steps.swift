extension TaskContext {
    /// A durable step: the first attempt that reaches it runs `body` and records its
    /// output; every later attempt of the task returns that output without running `body`.
    /// An attempt that lost its task records nothing and throws (``RotaError/Code/fencedOff``).
    ///
    /// `body` runs at least once (a crash after it returns but before the checkpoint lands
    /// runs it again), so its effects must be idempotent; use ``transaction(_:_:)`` for
    /// database writes that must happen exactly once.
    ///
    /// - Parameter name: unique within the task (a name used twice fails the task): 1 to 128
    ///   characters of `[A-Za-z0-9_.:-]`, not starting with a punctuation character; `sleep-1`,
    ///   `sleep-2`, ... are the durable sleeps' (``sleep(for:)``).
    /// - Throws: ``RotaTaskError/nonRetryable(_:)`` when the name was used before in this
    ///   run or is a sleep's, when the recorded output does not decode as `T`, or when the
    ///   output cannot be recorded (over 1 MiB, or a bad name).
    public func step<T: Codable & Sendable>(_ name: String, _ body: () async throws -> T) async throws -> T {
        try await steps.step(name, body)
    }

    /// A transactional step: `body`'s statements run on one of the worker's pooled
    /// connections (``RotaWorkerConfiguration/workflowConnections``) in one transaction
    /// that also records the step, so they commit exactly once, together with the
    /// checkpoint. When the attempt lost its task meanwhile (lease expired and recovered,
    /// cancelled) the transaction rolls back and nothing is written. Later attempts return
    /// the recorded output without running `body`.
    ///
    /// Errors and naming as for ``step(_:_:)``.
    public func transaction<T: Codable & Sendable>(_ name: String,
                                                   _ body: (RotaTransaction) async throws -> T) async throws -> T {
        try await steps.transaction(name, body)
    }
}
