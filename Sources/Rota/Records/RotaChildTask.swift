/// A child task and its outcome, as ``TaskContext/waitForChildren()`` returns it (`rota.children`).
public struct RotaChildTask: Sendable, Hashable, Codable {
    public var id: Int64
    public var task: String
    public var key: String?
    /// Final (`succeeded`, `failed`, `cancelled`) once the wait is over.
    public var state: RotaTaskState
    /// The child's result as JSON text (succeeded children whose handler returned one).
    public var result: String?
    /// The child's latest error message.
    public var lastError: String?

    init(row: PostgresRow) throws {
        id = try row.decode("child_id")
        task = try row.decode("task")
        key = try row.decode("key", as: String?.self)
        state = try row.decode("state")
        result = try row.decode("result", as: String?.self)
        lastError = try row.decode("last_error", as: String?.self)
    }
}
