/// An error from Rota or from PostgreSQL, with a stable ``PostgresError/Code`` to switch on.
///
/// One type serves both layers, so a caller catches one error type whatever layer failed.
/// Errors raised by the `rota` SQL functions carry their SQLSTATE (class `RO`, see
/// `docs/sql-contract.md`), and every statement the driver sends maps each of them to a
/// named code (``RotaError/Code/unknownQueue``, ...); connection problems keep the codes of
/// the PostgreSQL layer, so callers can tell "retry later" from "bad input".
public typealias RotaError = PostgresError

extension PostgresError.Code {
    /// RO001: the queue does not exist.
    public static let unknownQueue = Self("unknownQueue")
    /// RO002: the task id does not exist.
    public static let unknownTask = Self("unknownTask")
    /// RO003: the schedule does not exist.
    public static let unknownSchedule = Self("unknownSchedule")
    /// RO004: the executor does not exist.
    public static let unknownExecutor = Self("unknownExecutor")
    /// RO010: an argument is invalid; the message names it and the value.
    public static let invalidArgument = Self("invalidArgument")
    /// RO011: the payload is larger than the limit.
    public static let payloadTooLarge = Self("payloadTooLarge")
    /// RO012: the cron expression is invalid.
    public static let invalidCron = Self("invalidCron")
    /// RO013: the time zone is unknown.
    public static let unknownTimeZone = Self("unknownTimeZone")
    /// RO020: the task cannot make that state transition.
    public static let invalidStateTransition = Self("invalidStateTransition")
    /// RO021: the attempt number was never claimed.
    public static let impossibleAttempt = Self("impossibleAttempt")
    /// RO022: the lease token is not the one the claim of that attempt handed out.
    public static let wrongLeaseToken = Self("wrongLeaseToken")
    /// RO023: the task has no children to wait for.
    public static let noChildren = Self("noChildren")
    /// RO030: the queue still has tasks.
    public static let queueNotEmpty = Self("queueNotEmpty")
    /// RO040: the definitions document is invalid.
    public static let invalidDefinitions = Self("invalidDefinitions")
    /// RO090: an applied migration was edited.
    public static let migrationEdited = Self("migrationEdited")
    /// RO091: the database schema is newer than this release.
    public static let schemaTooNew = Self("schemaTooNew")
    /// RO092: installing needs CREATEROLE to create rota's roles (the message names them).
    public static let rolesMissing = Self("rolesMissing")
    /// A task's attempt no longer owns it (its lease ended and it was recovered, or it was
    /// cancelled), so a step checkpoint was not recorded.
    public static let fencedOff = Self("fencedOff")
    /// The API was used in a way it does not support.
    public static let invalidUsage = Self("invalidUsage")
    /// ``RotaClient/start(queue:task:payload:options:)`` needs a ``RotaWorker`` made with
    /// this client, running (registered, not shutting down), in this process.
    public static let workerNotRunning = Self("workerNotRunning")
    /// A task awaited with ``RotaClient/result(of:as:timeout:)`` did not reach a final state in time.
    public static let resultTimeout = Self("resultTimeout")
    /// An awaited task ended `failed`; the message holds its last error.
    public static let taskFailed = Self("taskFailed")
    /// An awaited task ended `cancelled`.
    public static let taskCancelled = Self("taskCancelled")

    /// The `RO` SQLSTATEs of `docs/sql-contract.md`.
    static let byRotaSQLState: [String: Self] = [
        "RO001": .unknownQueue, "RO002": .unknownTask, "RO003": .unknownSchedule,
        "RO004": .unknownExecutor, "RO010": .invalidArgument, "RO011": .payloadTooLarge,
        "RO012": .invalidCron, "RO013": .unknownTimeZone, "RO020": .invalidStateTransition,
        "RO021": .impossibleAttempt, "RO022": .wrongLeaseToken, "RO023": .noChildren, "RO030": .queueNotEmpty,
        "RO040": .invalidDefinitions, "RO090": .migrationEdited, "RO091": .schemaTooNew, "RO092": .rolesMissing,
    ]
}

extension PostgresError {
    /// The error with its `RO` SQLSTATE named; any other error unchanged.
    func namingRotaCode() -> RotaError {
        guard code == .serverError, let sqlState, let named = Code.byRotaSQLState[sqlState] else { return self }
        var error = self
        error.code = named
        return error
    }
}
