import Foundation

/// A task started with ``RotaClient/start(queue:task:payload:options:)``.
public struct RotaTaskHandle: Sendable {
    /// The task id.
    public let id: Int64
    /// Whether the task started at once on this process's worker. False when the queue's
    /// limits (concurrency, rate, concurrency key) had no room, the queue is paused, or
    /// ``EnqueueOptions/key`` named a task that was not waiting: the task then waits in its
    /// queue (or is that task) and its result is awaited the same way.
    public let startedHere: Bool
    let client: RotaClient

    /// Waits for the task's final state: ``RotaClient/result(of:as:timeout:)``.
    public func result<T: Decodable>(as type: T.Type = T.self, timeout: Duration) async throws -> T {
        try await client.result(of: id, as: type, timeout: timeout)
    }
}

extension RotaClient {
    /// Starts a task on the worker running in this process (made with
    /// `RotaWorker(..., client: self)`): created already claimed by its executor, so its
    /// handler starts at once, without a round trip through the queue. It is still a task
    /// like any other: the queue's limits apply (when they have no room it is left queued,
    /// ``RotaTaskHandle/startedHere`` false), heartbeats keep its lease, its outcome is
    /// written with the worker's batches, graceful shutdown drains or releases it, and if
    /// this process dies a reaper puts it back in its queue and any replica resumes it from
    /// its last step. Await its result with ``RotaTaskHandle/result(as:timeout:)``.
    ///
    /// `options.runAt` is not allowed (a direct start runs now). Throws
    /// ``RotaError/Code/workerNotRunning`` when no worker made with this client runs (yet,
    /// or any more), ``RotaError/Code/invalidUsage`` for a task the worker has no handler
    /// for or a queue it does not serve, and the errors of `rota.start` (unknown queue,
    /// payload over 1 MiB, ...): nothing is written then.
    public func start<Payload: Encodable & Sendable>(queue: String, task: String, payload: Payload,
                                                     options: EnqueueOptions = EnqueueOptions()) async throws -> RotaTaskHandle {
        try await start(queue: queue, task: task, payloadJSON: json(payload), options: options)
    }

    /// Starts a task whose payload is JSON text; see ``start(queue:task:payload:options:)``.
    public func start(queue: String, task: String, payloadJSON: PostgresJSON,
                      options: EnqueueOptions = EnqueueOptions()) async throws -> RotaTaskHandle {
        guard options.runAt == nil else {
            throw RotaError(.invalidUsage, "start: options.runAt is not allowed (a direct start runs now; enqueue a task for later)")
        }
        guard let worker = localWorker.withLock({ $0 }) else {
            throw RotaError(.workerNotRunning,
                            "start: no worker runs with this client (make it with RotaWorker(..., client:) and run it)")
        }
        let (id, startedHere) = try await worker.startDirect(queue: queue, task: task, payload: payloadJSON,
                                                             options: options, statements: statements)
        return RotaTaskHandle(id: id, startedHere: startedHere, client: self)
    }
}
