import Foundation

extension RotaClient {
    /// Enqueues a task with an `Encodable` payload (a JSON object) and returns its id.
    ///
    /// With ``EnqueueOptions/key`` set, enqueueing the same key again in the same queue
    /// returns the existing task's id instead of creating another.
    @discardableResult
    public func enqueue<Payload: Encodable & Sendable>(queue: String, task: String, payload: Payload,
                                                       options: EnqueueOptions = EnqueueOptions()) async throws -> Int64 {
        try await enqueue(queue: queue, task: task, payloadJSON: json(payload), options: options)
    }

    /// Enqueues a task with no payload (`{}`).
    @discardableResult
    public func enqueue(queue: String, task: String, options: EnqueueOptions = EnqueueOptions()) async throws -> Int64 {
        try await enqueue(queue: queue, task: task, payloadJSON: PostgresJSON(text: "{}"), options: options)
    }

    /// Enqueues a task whose payload is JSON text.
    @discardableResult
    public func enqueue(queue: String, task: String, payloadJSON: PostgresJSON,
                        options: EnqueueOptions = EnqueueOptions()) async throws -> Int64 {
        try await statements.enqueue(queue: queue, task: task, payload: payloadJSON, options: options)
    }

    /// Enqueues one task per payload in one statement and returns their ids in input order.
    /// `keys`, when given, has one idempotency key (or nil) per payload.
    @discardableResult
    public func enqueueMany<Payload: Encodable & Sendable>(queue: String, task: String, payloads: [Payload],
                                                           keys: [String?]? = nil,
                                                           options: EnqueueOptions = EnqueueOptions()) async throws -> [Int64] {
        let encoded = try payloads.map { try json($0) }
        return try await enqueueMany(queue: queue, task: task, payloadsJSON: encoded, keys: keys, options: options)
    }

    /// Enqueues one task per JSON payload; see ``enqueueMany(queue:task:payloads:keys:options:)``.
    /// ``EnqueueOptions/key`` is ignored here: pass `keys`.
    @discardableResult
    public func enqueueMany(queue: String, task: String, payloadsJSON: [PostgresJSON], keys: [String?]? = nil,
                            options: EnqueueOptions = EnqueueOptions()) async throws -> [Int64] {
        try await statements.enqueueMany(queue: queue, task: task, payloads: payloadsJSON, keys: keys, options: options)
    }

    /// Cancels a task: `cancelled` when it was queued, `cancelling` when it is running (its
    /// executor aborts the handler at its next heartbeat), else the final state it already had.
    @discardableResult
    public func cancel(taskID: Int64) async throws -> String {
        try await statements.cancel(taskID: taskID)
    }

    /// Puts a failed or cancelled task back in its queue with a fresh attempt budget.
    public func retry(taskID: Int64) async throws {
        try await statements.retry(taskID: taskID)
    }

    /// One task with its attempts, or `nil` when there is no such task.
    public func task(id: Int64) async throws -> RotaTaskRecord? {
        guard var record = try await statements.task(id: id) else { return nil }
        record.attempts = try await attempts(taskID: id)
        record.steps = try await statements.stepRecords(taskID: id)
        return record
    }

    /// Tasks, newest first, filtered by queue and state when given.
    public func tasks(queue: String? = nil, state: RotaTaskState? = nil, limit: Int = 50) async throws -> [RotaTaskRecord] {
        try await statements.tasks(queue: queue, state: state, limit: limit)
    }

    /// The attempts of a task that did not succeed (failed, lease expired, released), first
    /// to last; a successful final attempt lives on the task row itself.
    public func attempts(taskID: Int64) async throws -> [RotaAttemptRecord] {
        try await statements.attempts(taskID: taskID)
    }
}
