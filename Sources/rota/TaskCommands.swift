import ArgumentParser
import Foundation
import Rota
import RotaCommandLine

struct TasksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tasks", abstract: "List tasks, or show one task's attempts.",
        subcommands: [ListTasks.self, ShowTask.self], defaultSubcommand: ListTasks.self)

    struct ListTasks: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List tasks, newest first.")
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "Only this queue.") var queue: String?
        @Option(help: "Only this state: queued, running, waiting, succeeded, failed, cancelled.") var state: RotaTaskState?
        @Option(help: "At most this many.") var limit: Int = 50
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            if limit < 1 { throw ValidationError("--limit must be at least 1") }
        }

        func run() async throws {
            let tasks = try await connection.withClient { try await $0.tasks(queue: queue, state: state, limit: limit) }
            if json {
                try printJSON(tasks)
                return
            }
            var table = TextTable(["ID", "QUEUE", "TASK", "STATE", "ATTEMPTS", "RUN AT", "FINISHED", "LAST ERROR"])
            for t in tasks {
                table.add(["\(t.id)", t.queue, t.task, t.state.rawValue, "\(t.attemptCount)/\(t.maxAttempts)",
                           isoString(t.runAt), isoString(t.finishedAt), shortened(t.lastError, to: 60)])
            }
            print(tasks.isEmpty ? "no tasks" : table.render())
        }
    }

    struct ShowTask: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one task, its attempts and its recorded steps.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The task id.") var id: Int64
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let found = try await connection.withClient { try await $0.task(id: id) }
            guard let task = found else { throw CommandFailure("no task with id \(id)") }
            if json {
                try printJSON(task)
                return
            }
            let fields: [(String, String)] = [
                ("id", "\(task.id)"), ("queue", task.queue), ("task", task.task), ("state", task.state.rawValue),
                ("key", task.key ?? ""), ("priority", "\(task.priority)"),
                ("attempts", "\(task.attemptCount) of \(task.maxAttempts)"),
                ("executor", task.executor ?? ""), ("enqueued at", isoString(task.enqueuedAt)),
                ("run at", isoString(task.runAt)), ("started at", isoString(task.startedAt)),
                ("finished at", isoString(task.finishedAt)), ("payload", task.payload),
                ("result", task.result ?? ""), ("last error", task.lastError ?? ""),
            ]
            for (name, value) in fields { print("\(name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(value)") }
            print("")
            if task.attempts.isEmpty {
                print("no failed or interrupted attempts")
            } else {
                var table = TextTable(["ATTEMPT", "OUTCOME", "EXECUTOR", "STARTED", "FINISHED", "ERROR"])
                for a in task.attempts {
                    table.add(["\(a.attempt)", a.outcome, a.executor ?? "", isoString(a.startedAt),
                               isoString(a.finishedAt), shortened(a.error, to: 80)])
                }
                print(table.render())
            }
            print("")
            if task.steps.isEmpty {
                print("no recorded steps")
            } else {
                var table = TextTable(["STEP", "ATTEMPT", "RECORDED", "OUTPUT"])
                for s in task.steps {
                    table.add([s.name, "\(s.attempt)", isoString(s.recordedAt), shortened(s.output, to: 80)])
                }
                print(table.render())
            }
        }
    }
}

struct EnqueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "enqueue", abstract: "Enqueue a task; prints its id.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The queue.") var queue: String
    @Argument(help: "The task name.") var task: String
    @Option(help: "The payload, a JSON object.") var payload: String = "{}"
    @Option(help: "Idempotency key.") var key: String?
    @Option(help: "Run no earlier than this ISO 8601 instant.") var runAt: String?
    @Option(help: "Priority (lower runs first; default: rota.enqueue's).") var priority: Int?
    @Option(help: "Attempt budget for this task.") var maxAttempts: Int?
    @Option(help: "Concurrency key.") var concurrencyKey: String?
    @Option(help: "Parent task id.") var parentId: Int64?

    func validate() throws {
        guard let object = try? JSONSerialization.jsonObject(with: Data(payload.utf8)), object is [String: Any] else {
            throw ValidationError("--payload must be a JSON object, got: \(payload)")
        }
        if let runAt { _ = try parseTimestamp(runAt) }
    }

    func run() async throws {
        let options = EnqueueOptions(key: key, runAt: try runAt.map(parseTimestamp), priority: priority,
                                     maxAttempts: maxAttempts, concurrencyKey: concurrencyKey, parentID: parentId)
        let id = try await connection.withClient {
            try await $0.enqueue(queue: queue, task: task, payloadJSON: PostgresJSON(text: payload), options: options)
        }
        print(id)
    }
}

struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel a task; prints its state.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The task id.") var id: Int64

    func run() async throws {
        let state = try await connection.withClient { try await $0.cancel(taskID: id) }
        print(state)
    }
}

struct RetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "retry", abstract: "Put a failed or cancelled task back in its queue.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The task id.") var id: Int64

    func run() async throws {
        try await connection.withClient { try await $0.retry(taskID: id) }
        print("queued")
    }
}

extension RotaTaskState: ExpressibleByArgument {}

/// Parses an instant with a zone: `2026-11-26T12:00:00Z`, with fractional seconds or an
/// offset, or with a space instead of the `T`.

private func parseTimestamp(_ text: String) throws -> Date {
    if let date = UTCTimestamp.parse(text) { return date }
    throw ValidationError("--run-at: not an ISO 8601 timestamp with a time zone: \(text) (e.g. 2026-11-26T12:00:00Z)")
}
