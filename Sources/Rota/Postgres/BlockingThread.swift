import Foundation
import Synchronization

/// A thread of its own that runs blocking jobs one at a time, in order.
///
/// libpq calls block until the server answers; running them here keeps them off Swift's
/// cooperative thread pool, whose few threads must never wait on a socket.
final class BlockingThread: Sendable {
    private struct State {
        var jobs: [@Sendable () -> Void] = []
        var stopping = false
    }

    private let state = Mutex(State())
    private let jobsAvailable = DispatchSemaphore(value: 0)

    init(name: String) {
        // The thread keeps `self` alive until `stop()` ends its loop.
        let thread = Thread { [self] in
            while true {
                jobsAvailable.wait()
                let next: (@Sendable () -> Void)? = self.state.withLock { state in
                    state.jobs.isEmpty ? nil : state.jobs.removeFirst()
                }
                guard let job = next else { return }  // woken with no job: stop
                job()
            }
        }
        thread.name = name
        thread.start()
    }

    /// Queues `job`; false when the thread has been stopped.
    @discardableResult
    func submit(_ job: @escaping @Sendable () -> Void) -> Bool {
        let accepted = state.withLock { state -> Bool in
            if state.stopping { return false }
            state.jobs.append(job)
            return true
        }
        if accepted { jobsAvailable.signal() }
        return accepted
    }

    /// Runs `body` on the thread and returns its result to the awaiting task.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let accepted = submit { continuation.resume(with: Result { try body() }) }
            if !accepted {
                continuation.resume(throwing: PostgresError(.connectionClosed, "the connection is closed"))
            }
        }
    }

    /// Lets queued jobs finish, then ends the thread. Later submissions are refused.
    func stop(after lastJob: (@Sendable () -> Void)? = nil) {
        let stopped = state.withLock { state -> Bool in
            if state.stopping { return false }
            if let lastJob { state.jobs.append(lastJob) }
            state.stopping = true
            return true
        }
        guard stopped else { return }
        if lastJob != nil { jobsAvailable.signal() }
        jobsAvailable.signal()  // the extra wake-up finds no job and ends the loop
    }
}
