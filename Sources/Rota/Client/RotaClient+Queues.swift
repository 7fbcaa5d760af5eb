extension RotaClient {
    /// Creates a queue or replaces the options of an existing one (idempotent); options left
    /// nil take the defaults of `rota.define_queue`.
    public func defineQueue(_ name: String, options: QueueOptions = QueueOptions()) async throws {
        try await statements.defineQueue(name, options: options)
    }

    /// Stops the queue's tasks from being claimed (running ones finish).
    public func pauseQueue(_ name: String) async throws {
        try await statements.pauseQueue(name)
    }

    /// Lets a paused queue's tasks be claimed again.
    public func resumeQueue(_ name: String) async throws {
        try await statements.resumeQueue(name)
    }

    /// Drops a queue; unless `force`, only an empty one (else ``RotaError/Code/queueNotEmpty``).
    public func dropQueue(_ name: String, force: Bool = false) async throws {
        try await statements.dropQueue(name, force: force)
    }
}
