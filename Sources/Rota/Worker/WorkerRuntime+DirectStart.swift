extension WorkerRuntime {
    /// A task `rota.start` created claimed by this executor, on its way to a handler.
    struct DirectStart: Sendable {
        var task: ClaimedTask
        var abort: OneShotEvent<AbortReason>
    }

    /// ``RotaClient/start(queue:task:payload:options:)`` on this worker: creates the task
    /// claimed by this executor (`rota.start`, over the caller's connection) and hands it to
    /// ``runDirectStarts()``, tracked like a claimed task (heartbeats, capacity, shutdown).
    /// Returns its id and whether it started here.
    func startDirect(queue: String, task: String, payload: PostgresJSON, options: EnqueueOptions,
                     statements: Statements) async throws -> (id: Int64, startedHere: Bool) {
        guard !isShuttingDown else {
            throw RotaError(.workerNotRunning, "start: the worker \(executorID) is shutting down")
        }
        guard handlers[task] != nil else {
            throw RotaError(.invalidUsage, "start: this worker has no handler for task '\(task)' (it has: "
                                + handlers.taskNames.joined(separator: ", ") + ")")
        }
        guard configuration.queues[queue] != nil else {
            throw RotaError(.invalidUsage, "start: this worker does not serve queue '\(queue)' (it serves: "
                                + queueNames.joined(separator: ", ") + ")")
        }
        let (id, claim) = try await statements.start(queue: queue, task: task, payload: payload,
                                                     executor: executorID, options: options)
        guard let claim else { return (id, false) }
        metrics.startedDirectly(queue: queue)
        for (task, abort) in startTracking([claim]) {
            directStarts.continuation.yield(DirectStart(task: task, abort: abort))
        }
        return (id, true)
    }

    /// Runs the handlers of directly started tasks as they come, each like a claimed one
    /// (``execute(_:abort:)``), until the worker's background work is cancelled at its end
    /// (by then the drain has waited for them, as for claimed tasks).
    func runDirectStarts() async {
        await withDiscardingTaskGroup { handlerGroup in
            for await start in directStarts.stream {
                handlerGroup.addTask { await self.execute(start.task, abort: start.abort) }
            }
        }
    }

    /// Makes this worker the one that runs its client's direct starts, while it runs.
    func attachToClient() throws {
        guard let client else { return }
        let attached = client.localWorker.withLock { worker -> Bool in
            guard worker == nil else { return false }
            worker = self
            return true
        }
        guard attached else {
            throw RotaError(.invalidUsage, "another worker made with the same RotaClient is running; "
                                + "each client starts tasks on one worker")
        }
    }

    func detachFromClient() {
        client?.localWorker.withLock { worker in
            if worker === self { worker = nil }
        }
    }
}
