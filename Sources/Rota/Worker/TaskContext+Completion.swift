extension TaskContext {
    /// Completes the task in the transaction that runs `body`'s statements (on one of the
    /// worker's pooled connections, ``RotaWorkerConfiguration/workflowConnections``): the
    /// writes and the completion, with `body`'s value as the task's result, commit together
    /// or not at all, like River's `JobCompleteTx`. Return that value from the handler; the
    /// worker writes no outcome of its own once this committed, whatever the handler does
    /// afterwards.
    ///
    /// ```swift
    /// handlers.register("charge") { (order: Order, context) -> Receipt in
    ///     try await context.completeInTransaction { tx in
    ///         try await tx.query("INSERT INTO charges (order_id, amount) VALUES ($1, $2)", [order.id, order.amount])
    ///         return Receipt(orderID: order.id)
    ///     }
    /// }
    /// ```
    ///
    /// When the attempt lost its task meanwhile (lease expired and recovered, or a cancel was
    /// requested) the transaction rolls back, nothing is written and this throws
    /// ``RotaError/Code/fencedOff``; a cancelled task then ends `cancelled`. An error thrown by
    /// `body` rolls back its writes and fails the attempt as usual.
    ///
    /// - Throws: ``RotaTaskError/nonRetryable(_:)`` when the result cannot be stored (over 1 MiB)
    ///   or when called inside a transactional step's closure.
    public func completeInTransaction<T: Encodable & Sendable>(_ body: (RotaTransaction) async throws -> T) async throws -> T {
        try await steps.completeInTransaction(body)
    }
}
