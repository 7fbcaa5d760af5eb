/// An error from Rota or from PostgreSQL, with a stable ``Code`` to switch on.
///
/// Errors raised by the `rota` SQL functions carry their SQLSTATE (class `RO`, see
/// `docs/sql-contract.md`); the code maps each of them to a named case. Connection
/// problems get codes of their own so callers can tell "retry later" from "bad input".
public struct RotaError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable identifier of the kind of error. New codes may be added.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The stable name, for example `unknownQueue`.
        public let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// RO001: the queue does not exist.
        public static let unknownQueue = Code("unknownQueue")
        /// RO002: the task id does not exist.
        public static let unknownTask = Code("unknownTask")
        /// RO003: the schedule does not exist.
        public static let unknownSchedule = Code("unknownSchedule")
        /// RO004: the executor does not exist.
        public static let unknownExecutor = Code("unknownExecutor")
        /// RO010: an argument is invalid; the message names it and the value.
        public static let invalidArgument = Code("invalidArgument")
        /// RO011: the payload is larger than the limit.
        public static let payloadTooLarge = Code("payloadTooLarge")
        /// RO012: the cron expression is invalid.
        public static let invalidCron = Code("invalidCron")
        /// RO013: the time zone is unknown.
        public static let unknownTimeZone = Code("unknownTimeZone")
        /// RO020: the task cannot make that state transition.
        public static let invalidStateTransition = Code("invalidStateTransition")
        /// RO021: the attempt number was never claimed.
        public static let impossibleAttempt = Code("impossibleAttempt")
        /// RO030: the queue still has tasks.
        public static let queueNotEmpty = Code("queueNotEmpty")
        /// RO040: the definitions document is invalid.
        public static let invalidDefinitions = Code("invalidDefinitions")
        /// RO090: an applied migration was edited.
        public static let migrationEdited = Code("migrationEdited")
        /// RO091: the database schema is newer than this release.
        public static let schemaTooNew = Code("schemaTooNew")
        /// Any other error raised by the server; see ``RotaError/sqlState``.
        public static let serverError = Code("serverError")
        /// The server could not be reached or refused the connection.
        public static let connectionFailed = Code("connectionFailed")
        /// An established connection broke; the statement's outcome is unknown.
        public static let connectionLost = Code("connectionLost")
        /// The connection was closed by this process.
        public static let connectionClosed = Code("connectionClosed")
        /// A statement or an operation took longer than allowed.
        public static let timeout = Code("timeout")
        /// A value from the server could not be decoded into the requested Swift type.
        public static let decodingFailed = Code("decodingFailed")
        /// A value could not be encoded (for example a payload that is not valid JSON).
        public static let encodingFailed = Code("encodingFailed")
        /// The SQL files to install could not be found or read.
        public static let sqlFilesNotFound = Code("sqlFilesNotFound")
        /// The API was used in a way it does not support.
        public static let invalidUsage = Code("invalidUsage")

        static let bySQLState: [String: Code] = [
            "RO001": .unknownQueue, "RO002": .unknownTask, "RO003": .unknownSchedule,
            "RO004": .unknownExecutor, "RO010": .invalidArgument, "RO011": .payloadTooLarge,
            "RO012": .invalidCron, "RO013": .unknownTimeZone, "RO020": .invalidStateTransition,
            "RO021": .impossibleAttempt, "RO030": .queueNotEmpty, "RO040": .invalidDefinitions,
            "RO090": .migrationEdited, "RO091": .schemaTooNew,
            // statement_timeout / lock_timeout / a cancel request
            "57014": .timeout, "55P03": .timeout,
            // the server is going away or is not ready: the connection is unusable
            "57P01": .connectionLost, "57P02": .connectionLost, "57P03": .connectionFailed,
        ]

        /// The code for a SQLSTATE: named for `RO` codes and connection classes, else ``serverError``.
        public static func forSQLState(_ sqlState: String) -> Code {
            if let code = bySQLState[sqlState] { return code }
            if sqlState.hasPrefix("08") { return .connectionLost }
            return .serverError
        }
    }

    /// What kind of error this is.
    public var code: Code
    /// The five-character SQLSTATE when the server reported the error.
    public var sqlState: String?
    /// The primary, human-readable message.
    public var message: String
    /// The server's DETAIL, if any.
    public var detail: String?
    /// The server's HINT, if any.
    public var hint: String?
    /// A connection error found before the statement was sent: running the statement on a
    /// new connection cannot run it twice.
    var statementNotSent = false

    /// Creates an error.
    public init(_ code: Code, _ message: String, sqlState: String? = nil, detail: String? = nil, hint: String? = nil) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
        self.hint = hint
    }

    /// True for errors after which a new connection may succeed (the database restarted, ...).
    public var isConnectionError: Bool {
        code == .connectionLost || code == .connectionFailed || code == .connectionClosed
    }

    public var description: String {
        var text = message
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        if let detail, !detail.isEmpty { text += "; detail: \(detail)" }
        if let hint, !hint.isEmpty { text += "; hint: \(hint)" }
        return text
    }
}

/// The connection layer's name for ``RotaError``: one error type serves both layers.
public typealias PostgresError = RotaError
