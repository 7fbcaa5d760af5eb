import ArgumentParser
import Foundation
import Logging
import Rota
import RotaExamples
import ServiceLifecycle

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run an executor with the built-in diagnostic handlers noop, latency, sleep and fail.",
        discussion: """
            Handlers: noop (does nothing); latency (returns {"started": unix seconds} read when the \
            handler starts, for `rota bench`); sleep ({"ms": n}: sleeps n milliseconds); \
            fail ({"times": n}: fails the first n attempts, then succeeds). \
            SIGTERM or SIGINT shuts down gracefully: no new claims, running tasks get --grace seconds.
            """)
    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Comma-separated queues to work on.") var queues: String
    @Option(help: "Most tasks this process runs at once, per queue.") var concurrency: Int = 10
    @Option(help: "Executor id (default: $ROTA_EXECUTOR_ID, else host-pid-random).") var executorId: String?
    @Option(help: "Poll interval in seconds (LISTEN wakes the worker sooner).") var poll: Double = 1
    @Option(help: "Heartbeat interval in seconds (default: a third of the lease).") var heartbeat: Double?
    @Option(help: "Reap interval in seconds (default: the heartbeat interval).") var reap: Double?
    @Option(help: "Graceful shutdown grace period in seconds.") var grace: Double = 30
    @Option(help: "Handler timeout in seconds (default: none).") var timeout: Double?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: String = "info"
    @Flag(help: "Install or upgrade the schema before starting (safe from every replica at once).") var migrate = false
    @Flag(help: "Also run the example handlers (monthly reports, storage cleanup) and apply their definitions (see examples/).")
    var examples = false

    func validate() throws {
        if queueList.isEmpty { throw ValidationError("--queues needs at least one queue name") }
        if concurrency < 1 { throw ValidationError("--concurrency must be at least 1") }
        if Logger.Level(rawValue: logLevel) == nil { throw ValidationError("--log-level: unknown level \(logLevel)") }
    }

    var queueList: [String] {
        queues.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "rota.worker")
        if migrate {
            let client = RotaClient(connectionString: connection.connectionString, logger: logger)
            try await client.migrate()
            await client.close()
        }
        var handlers = DiagnosticHandlers.all
        var queues = Dictionary(uniqueKeysWithValues: queueList.map { ($0, concurrency) })
        if examples {
            try await RotaExamples.prepareWorker(connectionString: connection.connectionString,
                                                 environment: ProcessInfo.processInfo.environment,
                                                 handlers: &handlers, queues: &queues, logger: logger)
        }
        var configuration = RotaWorkerConfiguration(
            connectionString: connection.connectionString, queues: queues, executorID: executorId)
        configuration.pollInterval = .seconds(parsing: poll)
        configuration.heartbeatInterval = heartbeat.map(Duration.seconds(parsing:))
        configuration.reapInterval = reap.map(Duration.seconds(parsing:))
        configuration.shutdownGracePeriod = .seconds(parsing: grace)
        configuration.defaultTaskTimeout = timeout.map(Duration.seconds(parsing:))
        let worker = RotaWorker(configuration: configuration, handlers: handlers, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: worker)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }
}

/// The worker command's built-in handlers, for trying Rota out and for tests.
enum DiagnosticHandlers {
    struct SleepPayload: Codable, Sendable { var ms: Int }
    /// `started`/`finished`: wall-clock seconds since 1970 around the sleep, so tests can see
    /// how many handlers ran at once across processes.
    struct SleepResult: Codable, Sendable { var slept_ms: Int; var started: Double; var finished: Double }
    /// `started`: wall-clock seconds since 1970 when the handler started.
    struct LatencyResult: Codable, Sendable { var started: Double }
    struct FailPayload: Codable, Sendable { var times: Int }
    struct FailResult: Codable, Sendable { var attempt: Int }
    struct FailedOnPurpose: Error, CustomStringConvertible {
        var attempt: Int
        var times: Int
        var description: String { "fail: attempt \(attempt) fails on purpose (first \(times) attempts fail)" }
    }

    static var all: RotaHandlers {
        var handlers = RotaHandlers()
        handlers.register("noop") { (_: EmptyPayload, _) in }
        handlers.register("latency") { (_: EmptyPayload, _) -> LatencyResult in
            LatencyResult(started: Date().timeIntervalSince1970)
        }
        handlers.register("sleep") { (payload: SleepPayload, _) -> SleepResult in
            let started = Date().timeIntervalSince1970
            try await Task.sleep(for: .milliseconds(payload.ms))
            return SleepResult(slept_ms: payload.ms, started: started, finished: Date().timeIntervalSince1970)
        }
        handlers.register("fail") { (payload: FailPayload, context) -> FailResult in
            if context.attempt <= payload.times { throw FailedOnPurpose(attempt: context.attempt, times: payload.times) }
            return FailResult(attempt: context.attempt)
        }
        return handlers
    }
}
