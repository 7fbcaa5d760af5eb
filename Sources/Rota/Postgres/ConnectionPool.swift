import Logging
import Synchronization

/// A bounded set of ``ReconnectingConnection``s, each lent to one caller at a time, so
/// that many concurrent callers share at most `size` server connections. Connections open
/// on first use and come back after a break like any ``ReconnectingConnection``.
final class ConnectionPool: Sendable {
    private struct State {
        var idle: [ReconnectingConnection]
        var waiters: [CheckedContinuation<ReconnectingConnection, Never>] = []
    }

    private let connections: [ReconnectingConnection]
    private let state: Mutex<State>

    /// - Parameter size: the most connections open at once (at least 1).
    init(size: Int, connectionString: String, logger: Logger, backoff: Backoff, connectTimeout: Duration?) {
        connections = (0..<max(1, size)).map { _ in
            ReconnectingConnection(connectionString: connectionString, logger: logger, backoff: backoff,
                                   connectTimeout: connectTimeout)
        }
        state = Mutex(State(idle: connections))
    }

    /// Runs `body` with a connection no other caller uses meanwhile, waiting for one when
    /// all are lent. (The wait is not cancellable: every lender gives its connection back
    /// when its body ends.)
    func withConnection<T: Sendable>(_ body: (ReconnectingConnection) async throws -> T) async throws -> T {
        let connection = await acquire()
        defer { release(connection) }
        return try await body(connection)
    }

    /// Closes every connection (a later use connects again).
    func close() async {
        for connection in connections { await connection.close() }
    }

    private func acquire() async -> ReconnectingConnection {
        if let connection = state.withLock({ $0.idle.popLast() }) { return connection }
        return await withCheckedContinuation { continuation in
            let connection: ReconnectingConnection? = state.withLock { state in
                if let connection = state.idle.popLast() { return connection }
                state.waiters.append(continuation)
                return nil
            }
            if let connection { continuation.resume(returning: connection) }
        }
    }

    private func release(_ connection: ReconnectingConnection) {
        let waiter: CheckedContinuation<ReconnectingConnection, Never>? = state.withLock { state in
            if state.waiters.isEmpty {
                state.idle.append(connection)
                return nil
            }
            return state.waiters.removeFirst()
        }
        waiter?.resume(returning: connection)
    }
}
