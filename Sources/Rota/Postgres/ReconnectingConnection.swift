import Logging
import Metrics

/// A connection that comes back: when the connection breaks (the database restarted, the
/// network dropped), the next statement opens a new one, retrying with exponential backoff.
/// A failure that waiting does not fix (``PostgresError/isPermanentConnectionFailure``:
/// a wrong password, an unknown database) is reported at once, without retrying.
///
/// A statement that fails because the connection broke is *not* re-run (its outcome is
/// unknown): the error (``PostgresError/Code/connectionLost``) reaches the caller, who knows
/// whether the statement is safe to repeat. The exception is a connection that the server
/// closed while it sat idle: that is noticed before the statement is sent, so the
/// statement goes to a new connection instead of failing. Prepared statements are prepared again on the
/// new connection automatically, on first use.
public actor ReconnectingConnection {
    /// The libpq connection string.
    public nonisolated let connectionString: String
    private let logger: Logger
    private let backoff: Backoff
    private let connectTimeout: Duration?
    private var current: PostgresConnection?
    /// Counts connections made after the first one (a swift-metrics counter, when given).
    private let reconnects: Counter?
    private var connectedBefore = false

    /// - Parameters:
    ///   - connectionString: a libpq connection string (empty: libpq defaults and `PG*`).
    ///   - backoff: delays between connection attempts.
    ///   - connectTimeout: how long to keep retrying a failed connection before giving up;
    ///     `nil` retries until the calling task is cancelled, `.zero` tries once.
    ///   - reconnects: incremented for each connection after the first.
    public init(connectionString: String, logger: Logger = Logger(label: "rota.postgres"),
                backoff: Backoff = .standard, connectTimeout: Duration? = nil, reconnects: Counter? = nil) {
        self.reconnects = reconnects
        self.connectionString = connectionString
        self.logger = logger
        self.backoff = backoff
        self.connectTimeout = connectTimeout
    }

    /// The open connection, connecting (with retries) when there is none or it broke.
    public func connection() async throws -> PostgresConnection {
        if let current, !current.isBroken { return current }
        if let broken = current {
            current = nil
            await broken.close()
        }
        let clock = ContinuousClock()
        let started = clock.now
        var attempt = 0
        while true {
            do {
                let connection = try await PostgresConnection.connect(connectionString, logger: logger)
                if attempt > 0 { logger.info("reconnected to PostgreSQL", metadata: ["attempts": "\(attempt + 1)"]) }
                // Another caller may have connected while this one awaited (actor reentrancy).
                if let other = current, !other.isBroken {
                    await connection.close()
                    return other
                }
                current = connection
                if connectedBefore { reconnects?.increment() }
                connectedBefore = true
                return connection
            } catch let error as PostgresError where error.isConnectionError && !error.isPermanentConnectionFailure {
                let delay = backoff.delay(afterAttempt: attempt)
                if let connectTimeout, clock.now + delay - started > connectTimeout { throw error }
                // Debug only: callers report failures once, in their own terms.
                logger.debug("cannot connect to PostgreSQL, retrying", metadata: ["error": "\(error.message)"])
                attempt += 1
                try await Task.sleep(for: delay)
            }
        }
    }

    /// Runs one statement with bound parameters on the current connection (see
    /// ``PostgresConnection/query(_:_:)``).
    @discardableResult
    public func query(_ sql: String, _ parameters: [any PostgresBindable] = []) async throws -> PostgresRows {
        let connection = try await connection()
        do {
            return try await connection.query(sql, parameters)
        } catch let error as PostgresError where error.isConnectionError {
            await dropIfCurrent(connection)
            if error.statementNotSent { return try await self.connection().query(sql, parameters) }
            throw error
        }
    }

    /// Runs a parameterless script with the simple query protocol.
    public func executeScript(_ sql: String) async throws {
        let connection = try await connection()
        do {
            try await connection.executeScript(sql)
        } catch let error as PostgresError where error.isConnectionError {
            await dropIfCurrent(connection)
            if error.statementNotSent { return try await self.connection().executeScript(sql) }
            throw error
        }
    }

    /// Closes the connection; a later statement connects again.
    public func close() async {
        if let current {
            self.current = nil
            await current.close()
        }
    }

    private func dropIfCurrent(_ connection: PostgresConnection) async {
        if current === connection { current = nil }
        await connection.close()
    }
}
