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
        let rows = try await query(
            "SELECT rota.enqueue($1, $2, $3::jsonb, $4, $5::timestamptz, $6::int, $7::int, $8, $9::bigint) AS id",
            [queue, task, payloadJSON, options.key, options.runAt, options.priority, options.maxAttempts,
             options.concurrencyKey, options.parentID])
        return try rows[0].decode("id")
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
        let rows = try await query(
            """
            SELECT id FROM rota.enqueue_many($1, $2, $3::jsonb[], $4::text[], $5::timestamptz, $6::int, $7::int,
                                             $8, $9::bigint) AS id
            """,
            [queue, task, payloadsJSON, keys, options.runAt, options.priority, options.maxAttempts,
             options.concurrencyKey, options.parentID])
        return try rows.map { try $0.decode(at: 0, as: Int64.self) }
    }

    /// Cancels a task: `cancelled` when it was queued, `cancelling` when it is running (its
    /// executor aborts the handler at its next heartbeat), else the final state it already had.
    @discardableResult
    public func cancel(taskID: Int64) async throws -> String {
        try await query("SELECT rota.cancel($1::bigint) AS state", [taskID])[0].decode("state")
    }

    /// Puts a failed or cancelled task back in its queue with a fresh attempt budget.
    public func retry(taskID: Int64) async throws {
        try await query("SELECT rota.retry($1::bigint)", [taskID])
    }

    /// One task with its attempts, or `nil` when there is no such task.
    public func task(id: Int64) async throws -> RotaTaskRecord? {
        let rows = try await query("SELECT t.* FROM rota.tasks t WHERE t.id = $1::bigint", [id])
        guard let row = rows.first else { return nil }
        var record = try RotaTaskRecord(row: row)
        record.attempts = try await attempts(taskID: id)
        return record
    }

    /// Tasks, newest first, filtered by queue and state when given.
    public func tasks(queue: String? = nil, state: String? = nil, limit: Int = 50) async throws -> [RotaTaskRecord] {
        let rows = try await query(
            """
            SELECT t.* FROM rota.tasks t
            WHERE ($1::text IS NULL OR t.queue = $1) AND ($2::text IS NULL OR t.state = $2)
            ORDER BY t.id DESC LIMIT $3::int
            """, [queue, state, limit])
        return try rows.map { try RotaTaskRecord(row: $0) }
    }

    /// The attempts of a task that did not succeed (failed, lease expired, released), first
    /// to last; a successful final attempt lives on the task row itself.
    public func attempts(taskID: Int64) async throws -> [RotaAttemptRecord] {
        let rows = try await query("SELECT * FROM rota.task_attempts WHERE task_id = $1::bigint ORDER BY attempt", [taskID])
        return try rows.map { try RotaAttemptRecord(row: $0) }
    }
}
