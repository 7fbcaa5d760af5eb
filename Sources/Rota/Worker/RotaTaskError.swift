/// Errors a handler throws to control what happens to its task. Any other error fails the
/// attempt with the error's text and retries it after the queue's backoff while attempts
/// remain.
public enum RotaTaskError: Error, Sendable, Hashable {
    /// Fail the task now, without further attempts.
    case nonRetryable(String)
    /// Fail this attempt and retry after `after` (instead of the queue's backoff).
    case retry(after: Duration, reason: String = "retry requested")
}
