import Foundation

/// How a ``RotaWorker`` runs.
public struct RotaWorkerConfiguration: Sendable {
    /// The libpq connection string (empty: libpq defaults and `PG*`).
    public var connectionString: String
    /// The queues to work on, each with the most tasks this process runs at once from it.
    public var queues: [String: Int]
    /// This process's executor id: `ROTA_EXECUTOR_ID`, else `host-pid-random`.
    public var executorID: String
    /// Look for work at least this often even without a notification.
    public var pollInterval: Duration = .seconds(1)
    /// How often leases are renewed; `nil`: a third of the shortest lease of the running
    /// tasks (each claim returns its lease, so a lease changed with `rota.define_queue`
    /// counts from the next claim), else of the latest claim's, else the poll interval.
    public var heartbeatInterval: Duration?
    /// How often `rota.reap()` recovers tasks of dead executors; `nil`: the heartbeat interval.
    public var reapInterval: Duration?
    /// How often the worker looks for finished tasks past their queue's retention when it
    /// last found none (at least every 100 ms); it also looks once as it starts. While it
    /// finds some, it deletes them (`rota.prune`) in batches of 1,000 paced by ``pruneRate``.
    public var pruneInterval: Duration = .seconds(60)
    /// While finished tasks past their queue's retention are due, the rows per second this
    /// worker deletes at least; it adds 1.5 rows for each task it finishes, so deletion keeps
    /// pace with any load (each task finished now is due one retention later) and a backlog
    /// is cleared at this rate plus half the completion rate. Deleting at a steady pace
    /// instead of back to back costs the other sessions little; 0: only the 1.5 per task.
    public var pruneRate: Int = 2_000
    /// On graceful shutdown, how long in-flight handlers may run before they are cancelled
    /// and their tasks released.
    public var shutdownGracePeriod: Duration = .seconds(30)
    /// The timeout of handlers registered without one; `nil`: none.
    public var defaultTaskTimeout: Duration?
    /// How long finished results wait to be written together while handlers keep ending:
    /// a result that comes after a quiet spell this long is written at once, and while they
    /// keep coming, each write waits this long first (one statement and commit for many).
    public var completionBatchWindow: Duration = .milliseconds(5)
    /// While at least half of the worker's capacity is busy, how long the claim loop waits
    /// for more handlers to end before it claims, so that claims take several tasks at once
    /// (`.zero`: claim as soon as any capacity is free). An idle worker claims at once.
    public var claimGatherWindow: Duration = .milliseconds(2)
    /// Most results written by one statement.
    public var maxCompletionBatch: Int = 500
    /// The most database connections this process's handlers use at once for steps and
    /// transactions (``TaskContext/step(_:_:)``, ``TaskContext/transaction(_:_:)``); a
    /// step waits while all are in use. Opened on first use.
    public var workflowConnections: Int = 4
    /// Delays between retries after database errors.
    public var backoff: Backoff = .standard
    /// Whether this process also fires due cron schedules (`rota.fire_due`).
    public var runsSchedules: Bool = true

    /// A configuration for `queues` (name → per-process concurrency).
    public init(connectionString: String = "", queues: [String: Int], executorID: String? = nil) {
        self.connectionString = connectionString
        self.queues = queues
        self.executorID = executorID ?? Self.defaultExecutorID()
    }

    /// `ROTA_EXECUTOR_ID`, else `host-pid-xxxx`.
    public static func defaultExecutorID(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let configured = environment["ROTA_EXECUTOR_ID"], !configured.isEmpty { return configured }
        // Executor ids allow [A-Za-z0-9_.:-]; anything else in a host name becomes '-'.
        let rawHost = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "host"
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-")
        let host = String(rawHost.prefix(60).map { allowed.contains($0) ? $0 : "-" }).isEmpty
            ? "host" : String(rawHost.prefix(60).map { allowed.contains($0) ? $0 : "-" })
        let random = String(UInt16.random(in: 0...UInt16.max), radix: 16)
        return "\(host)-\(ProcessInfo.processInfo.processIdentifier)-\(random)"
    }
}
