/// Exponential backoff between reconnection attempts: `initial`, doubling, capped at `maximum`.
public struct Backoff: Sendable, Hashable {
    /// The first delay.
    public var initial: Duration
    /// The largest delay.
    public var maximum: Duration

    /// 50 ms doubling up to 2 s: a restarted local database is found again within ~2 s.
    public static let standard = Backoff(initial: .milliseconds(50), maximum: .seconds(2))

    /// A backoff policy.
    public init(initial: Duration, maximum: Duration) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The delay before attempt `attempt` (0-based) is retried.
    public func delay(afterAttempt attempt: Int) -> Duration {
        var delay = initial
        for _ in 0..<min(attempt, 30) {
            delay = delay * 2
            if delay >= maximum { return maximum }
        }
        return min(delay, maximum)
    }
}
