/// The state of a task (`rota.tasks.state`).
public enum RotaTaskState: String, Sendable, Hashable, Codable, CaseIterable, PostgresTextEnum {
    /// Waiting for its run time, a free slot or rate token, or an executor.
    case queued
    /// Claimed by an executor, under a lease.
    case running
    /// Out of its worker until its children have ended (``TaskContext/waitForChildren()``).
    case waiting
    /// Its handler finished; the result is stored.
    case succeeded
    /// Out of attempts, or failed without retry; kept with its errors.
    case failed
    /// Cancelled before it finished.
    case cancelled
}
