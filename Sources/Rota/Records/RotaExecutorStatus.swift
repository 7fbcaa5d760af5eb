import Foundation

/// A row of `rota.executor_status`.
public struct RotaExecutorStatus: Sendable, Hashable, Codable {
    public var executor: String
    public var host: String?
    public var pid: Int?
    public var queues: [String]
    /// Not stopped, with a recent heartbeat.
    public var alive: Bool
    public var stopped: Bool
    /// Tasks it runs now.
    public var running: Int
    public var lastHeartbeatAt: Date?
    public var startedAt: Date?
    public var stoppedAt: Date?

    init(row: PostgresRow) throws {
        executor = try row.decode("executor")
        host = try row.decode("host", as: String?.self)
        pid = try row.decode("pid", as: Int?.self)
        queues = try row.decode("queues", as: [String]?.self) ?? []
        alive = try row.decode("alive")
        stopped = try row.decode("stopped")
        running = try row.decode("running")
        lastHeartbeatAt = try row.decode("last_heartbeat_at", as: Date?.self)
        startedAt = try row.decode("started_at", as: Date?.self)
        stoppedAt = try row.decode("stopped_at", as: Date?.self)
    }
}
