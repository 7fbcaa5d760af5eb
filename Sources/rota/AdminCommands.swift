import ArgumentParser
import Foundation
import Rota
import RotaCommandLine

private func isoString(_ date: Date?) -> String {
    guard let date else { return "" }
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.string(from: date)
}

private func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.dateEncodingStrategy = .iso8601
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Install or upgrade the rota schema (the one built into this binary, as in sql/install.sql).")
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await connection.withClient { try await $0.migrate() }
        print("rota: schema is up to date")
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show queues, executors and schedules.")
    @OptionGroup var connection: ConnectionOptions
    @Flag(help: "Print JSON instead of tables.") var json = false

    struct Report: Encodable {
        var queues: [RotaQueueStats]
        var executors: [RotaExecutorStatus]
        var schedules: [RotaScheduleStatus]
    }

    func run() async throws {
        let report = try await connection.withClient { client in
            Report(queues: try await client.queueStats(), executors: try await client.executorStatus(),
                   schedules: try await client.scheduleStatus())
        }
        if json {
            try printJSON(report)
            return
        }
        var queues = TextTable(["QUEUE", "READY", "DELAYED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED",
                                "OLDEST READY", "CONCURRENCY", "RATE", "PAUSED"])
        for q in report.queues {
            let rate = q.rateLimit.map { "\($0)/\(q.ratePeriodSeconds.map { String(format: "%gs", $0) } ?? "?")" } ?? "-"
            queues.add([q.queue, "\(q.ready)", "\(q.delayed)", "\(q.running)", "\(q.succeeded)", "\(q.failed)",
                        "\(q.cancelled)", q.oldestReadyAgeSeconds.map { String(format: "%.1fs", $0) } ?? "-",
                        q.concurrency.map { "\(q.slotsInUse)/\($0)" } ?? "-", rate, q.paused ? "yes" : "no"])
        }
        print(report.queues.isEmpty ? "no queues" : queues.render())
        print("")
        var executors = TextTable(["EXECUTOR", "HOST", "PID", "ALIVE", "RUNNING", "LAST HEARTBEAT", "QUEUES"])
        for e in report.executors {
            executors.add([e.executor, e.host ?? "", e.pid.map(String.init) ?? "",
                           e.alive ? "yes" : (e.stopped ? "stopped" : "no"), "\(e.running)",
                           isoString(e.lastHeartbeatAt), e.queues.joined(separator: ",")])
        }
        print(report.executors.isEmpty ? "no executors" : executors.render())
        print("")
        var schedules = TextTable(["SCHEDULE", "CRON", "ZONE", "QUEUE/TASK", "ENABLED", "NEXT FIRE", "LAST FIRE",
                                   "LAST STATE", "LAST EXECUTOR"])
        for s in report.schedules {
            schedules.add([s.name, s.cron, s.timezone, "\(s.queue)/\(s.task)", s.enabled ? "yes" : "no",
                           isoString(s.nextFireAt), isoString(s.lastFireAt), s.lastTaskState?.rawValue ?? "-",
                           s.lastExecutor ?? "-"])
        }
        print(report.schedules.isEmpty ? "no schedules" : schedules.render())
    }
}

struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Apply a definitions document (queues and schedules, JSON) with rota.apply.",
        discussion: """
            The document is {"version": n, "queues": [...], "schedules": [...]}; a version older than \
            the applied one changes nothing, and managed schedules it omits are disabled.
            """)
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The JSON file, or - for standard input.") var file: String

    func run() async throws {
        let data: Data
        if file == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let contents = FileManager.default.contents(atPath: file) else {
                throw CommandFailure("cannot read \(file)")
            }
            data = contents
        }
        let document = PostgresJSON(text: String(decoding: data, as: UTF8.self))
        let outcome = try await connection.withClient { try await $0.apply(definitionsJSON: document) }
        print(outcome)
    }
}

struct TasksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tasks", abstract: "List tasks, or show one task's attempts.",
        subcommands: [ListTasks.self, ShowTask.self], defaultSubcommand: ListTasks.self)

    struct ListTasks: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List tasks, newest first.")
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "Only this queue.") var queue: String?
        @Option(help: "Only this state: queued, running, succeeded, failed, cancelled.") var state: RotaTaskState?
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
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one task and its attempts.")
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

struct DefineQueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "define-queue", abstract: "Create a queue or replace its options (unset options take their defaults).")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The queue name.") var name: String
    @Option(help: "Most tasks running at once across all executors.") var concurrency: Int?
    @Option(help: "Most task starts per --rate-period.") var rateLimit: Int?
    @Option(help: "Rate window in seconds.") var ratePeriod: Double?
    @Option(help: "Attempts before a task fails for good.") var maxAttempts: Int?
    @Option(help: "Lease in seconds.") var lease: Double?
    @Option(help: "Most running tasks per concurrency key.") var concurrencyKeyLimit: Int?
    @Option(help: "First retry delay in seconds.") var backoffBase: Double?
    @Option(help: "Largest retry delay in seconds.") var backoffMax: Double?
    @Option(help: "Keep finished tasks this many seconds.") var retention: Double?

    func validate() throws {
        if (rateLimit == nil) != (ratePeriod == nil) {
            throw ValidationError("--rate-limit and --rate-period go together")
        }
    }

    func run() async throws {
        let options = QueueOptions(
            concurrency: concurrency, rateLimit: rateLimit, ratePeriod: ratePeriod.map(Duration.seconds(parsing:)),
            maxAttempts: maxAttempts, lease: lease.map(Duration.seconds(parsing:)), concurrencyKeyLimit: concurrencyKeyLimit,
            backoffBase: backoffBase.map(Duration.seconds(parsing:)), backoffMax: backoffMax.map(Duration.seconds(parsing:)),
            retention: retention.map(Duration.seconds(parsing:)))
        try await connection.withClient { try await $0.defineQueue(name, options: options) }
        print("queue \(name) defined")
    }
}

struct PauseQueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pause-queue", abstract: "Stop claims from a queue.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The queue name.") var name: String

    func run() async throws {
        try await connection.withClient { try await $0.pauseQueue(name) }
        print("queue \(name) paused")
    }
}

struct ResumeQueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume-queue", abstract: "Allow claims from a paused queue.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The queue name.") var name: String

    func run() async throws {
        try await connection.withClient { try await $0.resumeQueue(name) }
        print("queue \(name) resumed")
    }
}

struct DropQueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "drop-queue", abstract: "Drop a queue (only an empty one unless --force).")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The queue name.") var name: String
    @Flag(help: "Drop it with its tasks.") var force = false

    func run() async throws {
        try await connection.withClient { try await $0.dropQueue(name, force: force) }
        print("queue \(name) dropped")
    }
}

extension RotaTaskState: ExpressibleByArgument {}

/// Parses an instant with a zone: `2026-11-26T12:00:00Z`, with fractional seconds or an
/// offset, or with a space instead of the `T`.
private func parseTimestamp(_ text: String) throws -> Date {
    if let date = UTCTimestamp.parse(text) { return date }
    throw ValidationError("--run-at: not an ISO 8601 timestamp with a time zone: \(text) (e.g. 2026-11-26T12:00:00Z)")
}
