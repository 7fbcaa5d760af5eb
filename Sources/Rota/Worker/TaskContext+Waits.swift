import Foundation

extension TaskContext {
    /// Durable sleep: gives the task back to its queue to run again after `duration`, without
    /// spending an attempt and freeing its concurrency slot meanwhile. The handler unwinds
    /// here (the worker neither completes nor fails the task); the task resumes as a new
    /// attempt that runs the handler from the start, skipping the recorded steps, and this
    /// call then returns at once.
    ///
    /// Sleeps are recorded as steps `sleep-1`, `sleep-2`, ... in the order a run reaches them,
    /// so a handler must reach its sleeps in the same order on every attempt.
    /// - Throws: ``RotaTaskError/nonRetryable(_:)`` for a negative duration or one over a
    ///   year; ``RotaError/Code/fencedOff`` when the attempt no longer owns its task.
    public func sleep(for duration: Duration) async throws {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        try await steps.sleep { statements, step in
            try await statements.sleep(taskID: taskID, attempt: attempt, token: steps.token, seconds: seconds, step: step)
        }
    }

    /// Durable sleep until `date` (the database's clock decides when it has come); see
    /// ``sleep(for:)``.
    /// - Throws: ``RotaTaskError/nonRetryable(_:)`` for a date in the past or more than a year
    ///   ahead; ``RotaError/Code/fencedOff`` when the attempt no longer owns its task.
    public func sleep(until date: Date) async throws {
        try await steps.sleep { statements, step in
            try await statements.sleep(taskID: taskID, attempt: attempt, token: steps.token, until: date, step: step)
        }
    }

    /// Enqueues a child task of this task (its `parent_id`), once: its task key is derived
    /// from this task's key (or id) and `key` as ``FanOut`` derives them, so the attempt that
    /// resumes this task gets the same child back instead of a new one.
    ///
    /// - Parameters:
    ///   - queue: the child's queue; this task's queue when nil.
    /// - Returns: the child's id.
    /// - Throws: ``RotaError/Code/fencedOff`` when the attempt no longer owns its task or was
    ///   asked to cancel (nothing is enqueued); ``RotaError/Code/invalidArgument`` for a bad
    ///   task name or key.
    @discardableResult
    public func enqueueChild<Payload: Encodable & Sendable>(task childTask: String, payload: Payload, key: String,
                                                            queue childQueue: String? = nil) async throws -> Int64 {
        let taskKey = FanOut.parentScope(parentID: taskID, parentKey: self.key) + "/" + key
        let json = try PostgresJSON(encoding: payload, encoder: JSONCoding.encoder())
        let id = try await steps.pool.withConnection { connection in
            try await Statements(connection: connection).enqueueChild(
                taskID: taskID, attempt: attempt, token: steps.token, task: childTask, key: taskKey, payload: json,
                queue: childQueue)
        }
        guard let id else {
            throw RotaError(.fencedOff, "child \(taskKey): attempt \(attempt) of task \(taskID) no longer owns the task "
                                + "(its lease ended or it was cancelled); nothing was enqueued")
        }
        return id
    }

    /// Durable wait for this task's children (``enqueueChild(task:payload:key:queue:)``, a
    /// ``FanOut``, or any task enqueued with this task as its parent): while some have not
    /// ended, the task leaves its worker (state `waiting`, its attempt not spent and its slot
    /// freed) and the handler unwinds here; the transaction that ends the last child queues
    /// it again, and the attempt that resumes it gets here again and returns at once.
    ///
    /// - Returns: every child of the task, in id order, each in a final state with its result
    ///   or error.
    /// - Throws: ``RotaError/Code/noChildren`` when the task has no children;
    ///   ``RotaError/Code/fencedOff`` when the attempt no longer owns its task.
    public func waitForChildren() async throws -> [RotaChildTask] {
        try await steps.waitForChildren()
    }
}
