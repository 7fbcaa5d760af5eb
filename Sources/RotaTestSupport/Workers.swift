import Foundation
import Logging
import Rota
import ServiceLifecycle

/// A logger that stays quiet unless `ROTA_TEST_LOG` names a level.
public func quietLogger(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = ProcessInfo.processInfo.environment["ROTA_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .error
    return logger
}

/// Runs an in-process worker in a service group while `body` runs, then shuts it down
/// gracefully and waits for it to finish. The worker logs to `logger` (default: quiet).
public func withWorker(url: String, queues: [String: Int], handlers: RotaHandlers,
                       logger: Logger = quietLogger("rota.test.worker"), client: RotaClient? = nil,
                       configure: (inout RotaWorkerConfiguration) -> Void = { _ in },
                       _ body: (RotaWorker, ServiceGroup) async throws -> Void) async throws {
    var configuration = RotaWorkerConfiguration(connectionString: url, queues: queues,
                                                executorID: "test-\(UInt32.random(in: 0...UInt32.max))")
    configuration.pollInterval = .milliseconds(200)
    configure(&configuration)
    let worker = RotaWorker(configuration: configuration, handlers: handlers, logger: logger, client: client)
    let group = ServiceGroup(configuration: .init(services: [worker], logger: quietLogger("rota.test.group")))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        do {
            try await body(worker, group)
        } catch {
            await group.triggerGracefulShutdown()
            try? await tasks.waitForAll()
            throw error
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}
