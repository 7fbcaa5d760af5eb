import ArgumentParser
import Foundation
import Rota
import RotaCommandLine

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
