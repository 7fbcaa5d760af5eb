import Synchronization

/// Counts the tasks this worker finished (succeeded, failed for good, cancelled) once their
/// outcomes are committed; the pruner takes the count to pace its deletions to it.
final class FinishedTaskCounter: Sendable {
    private let count = Atomic<Int>(0)

    func add(_ finished: Int) {
        if finished > 0 { count.wrappingAdd(finished, ordering: .relaxed) }
    }

    /// The tasks finished since the last take.
    func take() -> Int {
        count.exchange(0, ordering: .relaxed)
    }
}
