import Logging
import Synchronization

/// The callers of one ``RotaClient`` waiting for tasks' final states, over one `LISTEN
/// rota_task_finished` connection, opened at the first wait and closed with the client.
///
/// The listener's thread only wakes waiters (a notification wakes those of its task; a
/// (re)connection wakes all of them, since notifications sent while it was away are lost);
/// each waiter then reads its task's state itself. A waiter that looks at the state only
/// while the listener listens cannot miss the end of its task.
final class TaskResultWaiters: Sendable {
    private struct State {
        var listener: PostgresListener?
        var listening = false
        var waiters: [Int64: [UInt64: WakeSignal]] = [:]
        var nextToken: UInt64 = 0
    }

    private let state = Mutex(State())
    private let connectionString: String
    private let logger: Logger

    init(connectionString: String, logger: Logger) {
        self.connectionString = connectionString
        self.logger = logger
    }

    /// A waiter for `taskID`, woken by its notification or a reconnection; the listener
    /// starts with the first one.
    func register(_ taskID: Int64) -> (token: UInt64, wake: WakeSignal) {
        let wake = WakeSignal()
        let (token, startListener) = state.withLock { state -> (UInt64, Bool) in
            state.nextToken += 1
            state.waiters[taskID, default: [:]][state.nextToken] = wake
            return (state.nextToken, state.listener == nil)
        }
        if startListener { startListening() }
        return (token, wake)
    }

    func unregister(_ taskID: Int64, token: UInt64) {
        state.withLock { state in
            state.waiters[taskID]?.removeValue(forKey: token)
            if state.waiters[taskID]?.isEmpty == true { state.waiters.removeValue(forKey: taskID) }
        }
    }

    /// Whether `LISTEN` is in place, so that a task ending after a look at its state is announced.
    var isListening: Bool { state.withLock { $0.listening } }

    /// How many waits are in progress.
    var count: Int { state.withLock { $0.waiters.values.map(\.count).reduce(0, +) } }

    /// Stops the listener; a later wait starts a new one.
    func close() {
        let listener = state.withLock { state -> PostgresListener? in
            defer {
                state.listener = nil
                state.listening = false
            }
            return state.listener
        }
        listener?.shutdown()
    }

    private func startListening() {
        var listenerLogger = logger
        listenerLogger[metadataKey: "connection"] = "results"
        let listener = PostgresListener(connectionString: connectionString, channels: [Statements.taskFinishedChannel],
                                        backoff: .standard, logger: listenerLogger) { [weak self] event in
            self?.deliver(event)
        }
        let redundant = state.withLock { state -> Bool in
            guard state.listener == nil else { return true }
            state.listener = listener
            return false
        }
        if redundant { listener.shutdown() }
    }

    private func deliver(_ event: PostgresListenerEvent) {
        let woken = state.withLock { state -> [WakeSignal] in
            switch event {
            case .listening:
                state.listening = true
                return state.waiters.values.flatMap(\.values)
            case .notification(let notification):
                guard let taskID = Int64(notification.payload) else { return [] }
                return state.waiters[taskID].map { Array($0.values) } ?? []
            }
        }
        for wake in woken { wake.signal() }
    }
}
