/// An error of the PostgreSQL layer, and under the name ``RotaError`` of the layers above it, with a
/// stable ``Code`` to switch on.
///
/// Errors the server reports carry their SQLSTATE; this layer names the classes every
/// caller must tell apart — "the connection is gone, retry later" from "a statement
/// failed" — and leaves every other server error as ``Code/serverError``.
public struct PostgresError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable identifier of the kind of error. New codes may be added (the Rota layer
    /// adds one per `RO` SQLSTATE).
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The stable name, for example `connectionLost`.
        public let name: String
        init(_ name: String) { self.name = name }
        public var description: String { name }

        /// Any other error raised by the server; see ``PostgresError/sqlState``.
        public static let serverError = Code("serverError")
        /// The server could not be reached or refused the connection.
        public static let connectionFailed = Code("connectionFailed")
        /// The server rejected the connection for a reason that waiting does not fix:
        /// authentication failed (SQLSTATE 28P01, 28000) or the database does not exist
        /// (3D000); ``PostgresError/sqlState`` says which.
        public static let connectionRejected = Code("connectionRejected")
        /// The connection string cannot be parsed; the message says what is wrong with it.
        public static let invalidConnectionString = Code("invalidConnectionString")
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

        static let bySQLState: [String: Code] = [
            // statement_timeout / lock_timeout / a cancel request
            "57014": .timeout, "55P03": .timeout,
            // the server is going away or is not ready: the connection is unusable
            "57P01": .connectionLost, "57P02": .connectionLost, "57P03": .connectionFailed,
        ]

        /// The code this layer gives a SQLSTATE: timeouts and connection classes are named,
        /// everything else is ``serverError``.
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

    /// True for a statement that lost a deadlock (40P01) or a serialization conflict (40001):
    /// it was rolled back through no fault of its own, and the same statement may succeed
    /// when sent again.
    public var isTransientConflict: Bool {
        sqlState == "40P01" || sqlState == "40001"
    }

    /// True for errors of the connection rather than of a statement (the database restarted,
    /// it rejected the connection, ...). Loops of a running worker retry all of them; see
    /// ``isPermanentConnectionFailure`` for the ones a connection attempt does not retry.
    public var isConnectionError: Bool {
        code == .connectionLost || code == .connectionFailed || code == .connectionClosed
            || isPermanentConnectionFailure
    }

    /// True when connecting failed for a reason that waiting does not fix (a wrong password,
    /// an unknown database, an unparsable connection string): ``ReconnectingConnection``
    /// reports it at once instead of retrying.
    public var isPermanentConnectionFailure: Bool {
        code == .connectionRejected || code == .invalidConnectionString
    }

    public var description: String {
        var text = message
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        if let detail, !detail.isEmpty { text += "; detail: \(detail)" }
        if let hint, !hint.isEmpty { text += "; hint: \(hint)" }
        return text
    }
}
