/// Thrown by ``TaskContext/sleep(for:)``, ``TaskContext/sleep(until:)`` and
/// ``TaskContext/waitForChildren()`` once the database has given the task back (queued for
/// later, or waiting for its children): it unwinds the handler, and the worker neither
/// completes nor fails the task. A handler that catches every error must let it through.
struct WorkflowSuspension: Error, CustomStringConvertible {
    let reason: String

    var description: String { "workflow suspended: \(reason) (rethrow this error; the task resumes later)" }
}
