import Logging
import Rota
import RotaTestSupport
import ServiceLifecycle
import XCTest

/// The worker's reap and prune loops report failures of `rota.reap` and `rota.prune` as
/// errors: while they fail, tasks of dead executors are not recovered and old tasks pile up.
final class MaintenanceLoggingTests: XCTestCase {
    struct Record: Sendable {
        var level: Logger.Level
        var message: String
        /// The logger's metadata with the message's own on top.
        var metadata: Logger.Metadata = [:]
    }

    /// A log handler that keeps the level, text and metadata of every message.
    struct RecordingLogHandler: LogHandler {
        let records: Recorder<Record>
        var metadata: Logger.Metadata = [:]
        var metadataProvider: Logger.MetadataProvider?
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            records.append(Record(level: event.level, message: event.message.description,
                                  metadata: metadata.merging(event.metadata ?? [:]) { $1 }))
        }
    }

    func testReapAndPruneFailuresAreLoggedAsErrors() async throws {
        let url = try await TestEnvironment.freshDatabase("rota_test_swift_maintenance_log")
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("m_log")
        // A database in which both fail, as an overflowing queue row once made them fail.
        _ = try await client.query("""
            CREATE OR REPLACE FUNCTION rota.reap() RETURNS integer LANGUAGE plpgsql
            AS $$BEGIN RAISE EXCEPTION 'reap broken by the test'; END$$
            """)
        _ = try await client.query("""
            CREATE OR REPLACE FUNCTION rota.prune(max_rows integer DEFAULT 10000) RETURNS integer LANGUAGE plpgsql
            AS $$BEGIN RAISE EXCEPTION 'prune broken by the test'; END$$
            """)
        await client.close()

        var configuration = RotaWorkerConfiguration(connectionString: url, queues: ["m_log": 1],
                                                    executorID: "test-maintenance-log")
        configuration.reapInterval = .milliseconds(100)
        configuration.pruneInterval = .zero
        let records = Recorder<Record>()
        let logger = Logger(label: "rota.test.maintenance") { _ in RecordingLogHandler(records: records) }
        let worker = RotaWorker(configuration: configuration, handlers: RotaHandlers(), logger: logger)
        let group = ServiceGroup(configuration: .init(services: [worker], logger: quietLogger("rota.test.group")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            defer { tasks.cancelAll() }
            do {
                try await waitUntil("reap and prune failures were logged as errors") {
                    let errors = records.all.filter { $0.level == .error }.map(\.message)
                    return errors.contains { $0.hasPrefix("rota.reap failed") }
                        && errors.contains { $0.hasPrefix("rota.prune failed") }
                }
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }
}
