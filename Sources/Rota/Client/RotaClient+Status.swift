extension RotaClient {
    /// Every queue's task counts by state, oldest waiting age, limits and slots in use.
    public func queueStats() async throws -> [RotaQueueStats] {
        try await statements.queueStats()
    }

    /// Every executor, alive or not, with how many tasks it runs.
    public func executorStatus() async throws -> [RotaExecutorStatus] {
        try await statements.executorStatus()
    }
}
