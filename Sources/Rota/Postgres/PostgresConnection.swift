import CLibPQ
import Foundation
import Logging
import Synchronization

/// One PostgreSQL connection through libpq, with an async API.
///
/// Every libpq call of a connection runs on that connection's own thread (never on Swift's
/// cooperative pool), one statement at a time in submission order. Values are always
/// bound parameters in text format; each distinct SQL text is prepared once per connection
/// and reused by name. The session runs with `DateStyle ISO`, `TimeZone UTC` and
/// `client_encoding UTF8` (whatever the connection string or `PGCLIENTENCODING` say).
///
/// A connection does not reconnect by itself: once it reports
/// ``PostgresError/Code/connectionLost`` it stays broken (see ``isBroken``); use
/// ``ReconnectingConnection`` for a connection that comes back.
public final class PostgresConnection: @unchecked Sendable {
    // `handle` and `preparedStatements` are touched only on `thread`, which makes the
    // unchecked Sendable conformance sound.
    private var handle: OpaquePointer?
    private var preparedStatements: [String: String] = [:]
    private let thread: BlockingThread
    private let broken = Atomic<Bool>(false)
    /// The logger for this connection's messages.
    public let logger: Logger

    private init(thread: BlockingThread, logger: Logger) {
        self.thread = thread
        self.logger = logger
    }

    deinit {
        if let handle = self.handle {
            // The thread is gone or idle by now; finishing here only frees memory and the socket.
            let sendable = UncheckedSendable(handle)
            thread.stop { PQfinish(sendable.value) }
        } else {
            thread.stop()
        }
    }

    /// Whether the connection broke; a broken connection fails every statement.
    public var isBroken: Bool { broken.load(ordering: .relaxed) }

    /// Opens a connection.
    ///
    /// - Parameter connectionString: a libpq connection string, URI (`postgresql://...`)
    ///   or `key=value` form. An empty string uses libpq's defaults and the `PG*`
    ///   environment variables, as psql does.
    public static func connect(_ connectionString: String, logger: Logger = Logger(label: "rota.postgres")) async throws -> PostgresConnection {
        let connection = PostgresConnection(thread: BlockingThread(name: "rota-pg"), logger: logger)
        try await connection.thread.run { try connection.open(connectionString) }
        return connection
    }

    /// Closes the connection. Statements already submitted finish first.
    public func close() async {
        let done: Void? = try? await thread.run { [self] in
            if let handle { PQfinish(handle) }
            handle = nil
            preparedStatements = [:]
        }
        _ = done
        broken.store(true, ordering: .relaxed)
        thread.stop()
    }

    /// Runs one statement with bound parameters (`$1`, `$2`, ...) and returns its rows.
    ///
    /// The SQL text is prepared on first use on this connection and reused after.
    @discardableResult
    public func query(_ sql: String, _ parameters: [any PostgresBindable] = []) async throws -> PostgresRows {
        let texts = parameters.map(\.postgresText)
        return try await thread.run { [self] in try executePrepared(sql, texts) }
    }

    /// Runs a script of one or more statements with the simple query protocol (no
    /// parameters), for trusted SQL such as migrations. A failed script leaves no open
    /// transaction behind.
    public func executeScript(_ sql: String) async throws {
        try await thread.run { [self] in try executeSimple(sql) }
    }

    // MARK: - On the connection's thread

    private func open(_ connectionString: String) throws {
        try ConnectionFailure.checkParses(connectionString)
        let connection = Self.connectdb(connectionString, applicationName: "rota")
        guard let connection else {
            throw PostgresError(.connectionFailed, "libpq could not allocate a connection")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let error = ConnectionFailure.error(message: Self.errorMessage(connection),
                                                needsPassword: PQconnectionNeedsPassword(connection) == 1)
            PQfinish(connection)
            throw error
        }
        // Server notices (NOTICE, WARNING) are not this library's output.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        handle = connection
        try executeSimple("SET DateStyle = 'ISO'; SET TimeZone = 'UTC'; SET IntervalStyle = 'postgres'")
    }

    /// Starts a libpq connection (`PQconnectdbParams`) for `connectionString` with
    /// `client_encoding` pinned to UTF8: parameters are sent and results read as UTF-8, and
    /// array literals are escaped for it (under a client encoding such as SJIS an escaped
    /// quote could end an element early). A setting after `dbname` overrides the one the
    /// connection string or the environment gives.
    static func connectdb(_ connectionString: String, applicationName: String) -> OpaquePointer? {
        withCStringArray(["fallback_application_name", "dbname", "client_encoding"]) { keywordPointers in
            withCStringArray([applicationName, connectionString, "UTF8"]) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
    }

    private func liveHandle() throws -> OpaquePointer {
        guard let handle, !isBroken else {
            throw PostgresError(.connectionLost, "the connection to PostgreSQL is broken")
        }
        if Self.closedByServerWhileIdle(handle) {
            broken.store(true, ordering: .relaxed)
            var error = PostgresError(.connectionLost,
                                  "the server closed the idle connection: \(Self.errorMessage(handle))")
            error.statementNotSent = true
            throw error
        }
        return handle
    }

    /// Whether the server closed this connection while nothing was in flight (a restart, a
    /// terminated backend, an idle timeout). Checked before each statement, at the cost of
    /// one non-blocking poll(), so that the statement can go to a new connection: it was
    /// never sent, so running it there cannot run it twice.
    private static func closedByServerWhileIdle(_ connection: OpaquePointer) -> Bool {
        var descriptor = pollfd(fd: PQsocket(connection), events: Int16(POLLIN), revents: 0)
        // Readable while idle: a notice or parameter status, or the server's goodbye message
        // followed by EOF, which libpq sees only on the read after the message.
        for _ in 0..<3 {
            guard poll(&descriptor, 1, 0) > 0 else { return false }
            if PQconsumeInput(connection) == 0 || PQstatus(connection) != CONNECTION_OK { return true }
        }
        return false
    }

    private func executePrepared(_ sql: String, _ parameters: [String?]) throws -> PostgresRows {
        let connection = try liveHandle()
        let name: String
        if let existing = preparedStatements[sql] {
            name = existing
        } else {
            name = "rota_\(preparedStatements.count + 1)"
            let result = PQprepare(connection, name, sql, Int32(parameters.count), nil)
            _ = try consume(result, connection: connection)
            preparedStatements[sql] = name
        }
        let result: OpaquePointer? = withCStringArray(parameters) { pointers in
            PQexecPrepared(connection, name, Int32(parameters.count), pointers, nil, nil, 0)
        }
        return try consume(result, connection: connection)
    }

    private func executeSimple(_ sql: String) throws {
        let connection = try liveHandle()
        do {
            _ = try consume(PQexec(connection, sql), connection: connection)
        } catch let error as PostgresError {
            if !error.isConnectionError, PQtransactionStatus(connection) != PQTRANS_IDLE {
                PQclear(PQexec(connection, "ROLLBACK"))
            }
            throw error
        }
    }

    /// Turns a result into rows or an error, and frees it.
    private func consume(_ result: OpaquePointer?, connection: OpaquePointer) throws -> PostgresRows {
        guard let result else {
            broken.store(true, ordering: .relaxed)
            throw PostgresError(.connectionLost, "lost the connection to PostgreSQL: \(Self.errorMessage(connection))")
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY, PGRES_SINGLE_TUPLE:
            return Self.rows(of: result)
        default:
            let error = Self.error(of: result, connection: connection)
            if PQstatus(connection) != CONNECTION_OK || error.code == .connectionLost {
                broken.store(true, ordering: .relaxed)
                var lost = error
                lost.code = .connectionLost
                throw lost
            }
            throw error
        }
    }

    private static func rows(of result: OpaquePointer) -> PostgresRows {
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        let columns = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        var values: [[String?]] = []
        values.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            var rowValues: [String?] = []
            rowValues.reserveCapacity(columnCount)
            for column in 0..<columnCount {
                if PQgetisnull(result, Int32(row), Int32(column)) == 1 {
                    rowValues.append(nil)
                } else {
                    rowValues.append(String(cString: PQgetvalue(result, Int32(row), Int32(column))))
                }
            }
            values.append(rowValues)
        }
        let tag = PQcmdStatus(result).map { String(cString: $0) } ?? ""
        return PostgresRows(columns: columns, values: values, commandTag: tag)
    }

    private static func field(_ result: OpaquePointer, _ code: Character) -> String? {
        guard let pointer = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
        return String(cString: pointer)
    }

    private static func error(of result: OpaquePointer, connection: OpaquePointer) -> PostgresError {
        let sqlState = field(result, "C")
        let message = field(result, "M") ?? errorMessage(connection)
        return PostgresError(sqlState.map(PostgresError.Code.forSQLState) ?? .connectionLost,
                         message,
                         sqlState: sqlState,
                         detail: field(result, "D"),
                         hint: field(result, "H"))
    }

    static func errorMessage(_ connection: OpaquePointer) -> String {
        guard let pointer = PQerrorMessage(connection) else { return "unknown error" }
        // libpq's messages span lines ("...failed: Connection refused\n\tIs the server running...");
        // one line reads better in logs and command-line errors.
        return String(cString: pointer)
            .split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
            .joined(separator: " ")
    }
}

/// Wraps a value that is only ever used on one thread, to move it into a closure.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// Calls `body` with a C array of C strings (NULL for nil elements) that lives for the call.
func withCStringArray<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let duplicated: [UnsafeMutablePointer<CChar>?] = strings.map { $0.flatMap { strdup($0) } }
    defer { duplicated.forEach { free($0) } }
    let constant: [UnsafePointer<CChar>?] = duplicated.map { $0.map { UnsafePointer($0) } } + [nil]
    return constant.withUnsafeBufferPointer { body($0.baseAddress!) }
}
