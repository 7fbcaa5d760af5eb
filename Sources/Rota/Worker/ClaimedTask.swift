import Foundation

/// A task returned by `rota.claim`, owned by this executor under `attempt`.
struct ClaimedTask: Sendable {
    var id: Int64
    var queue: String
    var task: String
    var payload: String
    var attempt: Int
    var key: String?
    var parentID: Int64?
    var enqueuedAt: Date?
    var runAt: Date?

    init(row: PostgresRow) throws {
        id = try row.decode("id")
        queue = try row.decode("queue")
        task = try row.decode("task")
        payload = try row.decode("payload", as: String?.self) ?? "{}"
        attempt = try row.decode("attempt")
        key = try row.decode("key", as: String?.self)
        parentID = try row.decode("parent_id", as: Int64?.self)
        enqueuedAt = try row.decodeIfPresent("enqueued_at")
        runAt = try row.decodeIfPresent("run_at")
    }
}
