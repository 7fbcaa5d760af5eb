import Foundation
import Logging
import Rota
import RotaTestSupport
import ServiceLifecycle
import XCTest

/// A graceful shutdown while the database is away ends within the grace period (an
/// orchestrator that waits that long, such as compose, never has to kill the worker),
/// leaving the unfinished tasks to the reaper.
final class ShutdownOutageTests: XCTestCase {
    func testShutdownWithTheDatabaseGoneEndsWithinTheGracePeriod() async throws {
        let server = try await TestEnvironment.serverURL()
        let name = "rota_test_swift_shutdown_outage"
        let url = try await TestEnvironment.freshDatabase(name)
        let client = RotaClient(connectionString: url, connectTimeout: .seconds(5))
        try await client.defineQueue("so_q")
        let blocking = UntilCancelledHandler()
        let started = blocking.started
        var handlers = RotaHandlers()
        blocking.register("forever", in: &handlers)
        let records = Recorder<MaintenanceLoggingTests.Record>()
        let grace: Duration = .seconds(1)
        var configuration = RotaWorkerConfiguration(connectionString: url, queues: ["so_q": 1],
                                                    executorID: "test-shutdown-outage")
        configuration.shutdownGracePeriod = grace
        configuration.pollInterval = .milliseconds(200)
        let logger = Logger(label: "rota.test.shutdown") { _ in MaintenanceLoggingTests.RecordingLogHandler(records: records) }
        let worker = RotaWorker(configuration: configuration, handlers: handlers, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [worker], logger: quietLogger("rota.test.group")))
        let admin = try await PostgresConnection.connect(server)
        var shutdownTook: Duration = .zero
        do {
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                let id = try await client.enqueue(queue: "so_q", task: "forever")
                try await waitUntil("the handler started") { started.count == 1 }
                // The database goes away: no new connections, and every open one is ended.
                try await admin.query("ALTER DATABASE \(name) WITH ALLOW_CONNECTIONS false")
                try await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [name])
                let shutdownStart = ContinuousClock.now
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                shutdownTook = ContinuousClock.now - shutdownStart
                try await admin.query("ALTER DATABASE \(name) WITH ALLOW_CONNECTIONS true")
                // Not released: still running under the stopped executor until the reaper recovers it.
                try await waitUntil("the client reconnected") { try await client.state(of: id) != nil }
                let state = try await client.state(of: id)
                XCTAssertEqual(state, "running")
            }
        } catch {
            _ = try? await admin.query("ALTER DATABASE \(name) WITH ALLOW_CONNECTIONS true")
            throw error
        }
        print("shutdown with the database gone took \(shutdownTook) (grace \(grace))")
        // The grace period, the minimum release time (0.5 s) and a margin for a loaded machine.
        // Before the fix the release alone retried for 5 s after the grace period.
        XCTAssertLessThan(shutdownTook, grace + .seconds(3))
        let warnings = records.all.filter { $0.level == .warning }.map(\.message)
        XCTAssertTrue(warnings.contains { $0.hasPrefix("grace period over before unfinished tasks could be released") },
                      "\(records.all.map(\.message))")
        await admin.close()
        await client.close()
        await TestEnvironment.dropDatabase(name)
    }
}
