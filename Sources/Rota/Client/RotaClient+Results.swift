import Foundation

extension RotaClient {
    /// Waits for a task to reach a final state and returns its result decoded as `T`.
    ///
    /// The wait is a `LISTEN rota_task_finished` (one listening connection per client, shared
    /// by all waits; no polling): the task is marked awaited (`rota.await_task`), so the
    /// statement that finishes it sends a notification. Works for any task the client's
    /// role may see, started or enqueued, here or elsewhere.
    /// - Throws: ``RotaError/Code/taskFailed`` (with the task's last error) or
    ///   ``RotaError/Code/taskCancelled`` when it ended so; ``RotaError/Code/resultTimeout``
    ///   when it is not final after `timeout` (the wait is then gone: nothing is left
    ///   behind but the task's mark, which its end clears); ``RotaError/Code/unknownTask``;
    ///   `CancellationError` when the waiting task is cancelled.
    public func result<T: Decodable>(of taskID: Int64, as type: T.Type = T.self, timeout: Duration) async throws -> T {
        let json = try await resultJSON(of: taskID, timeout: timeout)
        if json == nil, let empty = EmptyPayload() as? T { return empty }
        do {
            return try JSONCoding.decoder().decode(T.self, from: Data((json ?? "null").utf8))
        } catch {
            throw RotaError(.invalidUsage, "the result of task \(taskID) does not decode as \(T.self): \(error)")
        }
    }

    /// Waits like ``result(of:as:timeout:)`` and returns the result as JSON text (nil when
    /// the handler returned none).
    public func resultJSON(of taskID: Int64, timeout: Duration) async throws -> String? {
        let deadline = ContinuousClock.now + timeout
        let (token, wake) = resultWaiters.register(taskID)
        defer { resultWaiters.unregister(taskID, token: token) }
        var marked = false
        var lastState = "unknown"
        while true {
            if resultWaiters.isListening {
                let outcome = marked ? try await statements.taskStatus(id: taskID)
                                     : try await statements.awaitTask(id: taskID)
                marked = true
                lastState = outcome.state.rawValue
                if let result = try outcome.finalResult(taskID: taskID) { return result }
            }
            let left = deadline - ContinuousClock.now
            guard left > .zero else {
                throw RotaError(.resultTimeout, "task \(taskID) did not reach a final state within \(timeout) (it is \(lastState))")
            }
            await wake.wait(timeout: left)
            try Task.checkCancellation()
        }
    }
}
