import Synchronization

/// Why a running handler is stopped from outside.
enum AbortReason: Sendable, Hashable {
    /// The heartbeat reported the task: a cancel was requested, or it is no longer ours.
    case releasedByDatabase
    /// Heartbeats failed for longer than the lease, so another executor may run the task now.
    case leaseLost
    /// Graceful shutdown ran past its grace period; `rota.stop_executor` releases the task.
    case shutdown
}

/// The handlers running in this process, by task id: the heartbeat reports them as held,
/// aborts them by id and renews them before the shortest of their leases ends, and the
/// claim loop counts them against each queue's capacity.
final class InFlightTasks: Sendable {
    private struct Entry {
        var queue: String
        var lease: Duration
        var leaseToken: String
        var abort: OneShotEvent<AbortReason>
    }

    private struct State {
        var entries: [Int64: Entry] = [:]
        var countByQueue: [String: Int] = [:]
    }

    private let state = Mutex(State())

    /// Records a claimed task; the returned event stops its handler when fired.
    func add(_ task: ClaimedTask) -> OneShotEvent<AbortReason> {
        let abort = OneShotEvent<AbortReason>()
        state.withLock { state in
            state.entries[task.id] = Entry(queue: task.queue, lease: task.lease, leaseToken: task.leaseToken,
                                           abort: abort)
            state.countByQueue[task.queue, default: 0] += 1
        }
        return abort
    }

    /// Forgets a task; returns how many of its queue's tasks still run (nil: not tracked).
    func remove(id: Int64) -> Int? {
        state.withLock { state in
            guard let entry = state.entries.removeValue(forKey: id) else { return nil }
            state.countByQueue[entry.queue, default: 1] -= 1
            return state.countByQueue[entry.queue]
        }
    }

    func count(queue: String) -> Int { state.withLock { $0.countByQueue[queue] ?? 0 } }

    /// Running tasks per queue (a queue may be listed with 0).
    var countsByQueue: [String: Int] { state.withLock { $0.countByQueue } }

    var isEmpty: Bool { state.withLock { $0.entries.isEmpty } }

    var count: Int { state.withLock { $0.entries.count } }

    /// The shortest lease of the tasks this process runs; nil when it runs none.
    var shortestLease: Duration? { state.withLock { $0.entries.values.map(\.lease).min() } }

    /// The ids of the tasks this process runs, with the lease tokens of their claims (in
    /// the same order), as the heartbeat reports them.
    var held: (ids: [Int64], tokens: [String]) {
        state.withLock { state in
            (state.entries.keys.map { $0 }, state.entries.values.map(\.leaseToken))
        }
    }

    func abort(id: Int64, reason: AbortReason) {
        let event = state.withLock { $0.entries[id]?.abort }
        event?.fire(reason)
    }

    func abortAll(reason: AbortReason) {
        let events = state.withLock { $0.entries.values.map(\.abort) }
        for event in events { event.fire(reason) }
    }
}
