import Foundation

/// A task returned by `rota.claim`, owned by this executor under `attempt` until its lease ends.
struct ClaimedTask: Sendable {
    var id: Int64
    var queue: String
    var task: String
    var payload: String
    var attempt: Int
    var key: String?
    var parentID: Int64?
    var enqueuedAt: Date
    var runAt: Date
    /// For a task enqueued by a schedule, the fire instant.
    var scheduledAt: Date?
    /// The claim's proof of ownership (a UUID): completing, failing or renewing the task
    /// needs it along with `attempt`.
    var leaseToken: String
    /// The length of the lease the claim started (its queue's lease at claim time); the
    /// heartbeat renews the task before it ends.
    var lease: Duration

    /// A row of ``Statements/claim(executor:queues:max:)``.
    init(row: PostgresRow) throws {
        id = try row.decode("id")
        queue = try row.decode("queue")
        task = try row.decode("task")
        payload = try row.decode("payload")
        attempt = try row.decode("attempt")
        key = try row.decode("key", as: String?.self)
        parentID = try row.decode("parent_id", as: Int64?.self)
        enqueuedAt = try row.decode("enqueued_at")
        runAt = try row.decode("run_at")
        scheduledAt = try row.decode("scheduled_at", as: Date?.self)
        leaseToken = try row.decode("lease_token")
        lease = .microseconds(try row.decode("lease_microseconds", as: Int64.self))
    }

    /// The `lease_microseconds` column a claim's row needs, from the rows of `alias` (a call
    /// of `rota.claim` or `rota.start`): `lease_expires_at - now()` in the claiming
    /// transaction, where `now()` is the instant the lease was started from (the database
    /// clock only).
    static func leaseColumn(of alias: String) -> String {
        "(extract(epoch FROM \(alias).lease_expires_at - now()) * 1000000)::bigint AS lease_microseconds"
    }
}
