/// The worker's queues that were dropped while it runs: each is looked for again with
/// backoff instead of on every poll, and reported once when it goes missing.
struct MissingQueues {
    let backoff: Backoff
    private var entries: [String: (failures: Int, retryAt: ContinuousClock.Instant)] = [:]

    init(backoff: Backoff) { self.backoff = backoff }

    /// Whether no queue is missing.
    var isEmpty: Bool { entries.isEmpty }

    /// The missing queues.
    var queues: Dictionary<String, (failures: Int, retryAt: ContinuousClock.Instant)>.Keys { entries.keys }

    /// Whether `queue` is missing.
    func contains(_ queue: String) -> Bool { entries[queue] != nil }

    /// Whether `queue` should be claimed from now: present, or missing and due for a look.
    func isDue(_ queue: String) -> Bool {
        guard let entry = entries[queue] else { return true }
        return ContinuousClock.now >= entry.retryAt
    }

    /// Records that `queue` does not exist; true when it was not missing before (report it).
    mutating func failed(_ queue: String) -> Bool {
        let failures = (entries[queue]?.failures ?? 0) + 1
        entries[queue] = (failures, ContinuousClock.now + backoff.delay(afterAttempt: failures - 1))
        return failures == 1
    }

    /// Records that `queue` exists; true when it was missing before.
    mutating func found(_ queue: String) -> Bool { entries.removeValue(forKey: queue) != nil }
}
