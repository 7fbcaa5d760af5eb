import Foundation
import Logging
import Rota
import RotaChildProcess
import RotaTestSupport
import ServiceLifecycle
import XCTest

/// A worker started with bad input stops at once with one clear error; one whose database is
/// not there yet waits for it, saying so; a queue dropped under a running worker does not
/// stop its other queues.
final class WorkerStartupTests: XCTestCase {
    typealias Record = MaintenanceLoggingTests.Record

    /// Runs a worker until `run()` returns or throws; fails the test when it is still running
    /// after `timeout` (before the fix such a worker retried for ever).
    private func runUntilItStops(_ configuration: RotaWorkerConfiguration, logger: Logger = quietLogger("rota.test.startup"),
                                 timeout: Duration = .seconds(30)) async throws -> (any Error)? {
        let worker = RotaWorker(configuration: configuration, handlers: RotaHandlers(), logger: logger)
        return try await withThrowingTaskGroup(of: (any Error)??.self) { group in
            group.addTask {
                do {
                    try await worker.run()
                    return .some(nil)
                } catch {
                    return .some(error)
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            let first = try await group.next()!
            group.cancelAll()
            guard let outcome = first else {
                XCTFail("the worker was still running after \(timeout)")
                return nil
            }
            return outcome
        }
    }

    func testUnknownQueuesStopTheWorkerAtStartNamingEachOfThem() async throws {
        let url = try await SharedDatabases.shared.url("rota_test_swift_startup")
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("su_known")
        await client.close()
        let configuration = RotaWorkerConfiguration(connectionString: url,
                                                    queues: ["su_known": 1, "su_missing_a": 1, "su_missing_b": 2],
                                                    executorID: "test-startup-unknown")
        let error = try await runUntilItStops(configuration)
        let rotaError = try XCTUnwrap(error as? RotaError, "\(String(describing: error))")
        XCTAssertEqual(rotaError.code, .unknownQueue)
        XCTAssertEqual(rotaError.sqlState, "RO001")
        XCTAssertTrue(rotaError.message.contains("'su_missing_a', 'su_missing_b'"), rotaError.message)
        XCTAssertFalse(rotaError.message.contains("su_known"), rotaError.message)
    }

    func testTheWorkerCommandExitsWithOneLineForAnUnknownQueue() async throws {
        let url = try await SharedDatabases.shared.url("rota_test_swift_startup")
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("su_cli_known")
        await client.close()
        let child = try ChildProcess([try TestEnvironment.rotaBinary(), "worker", "--database-url", url,
                                      "--queues", "su_cli_known,su_cli_missing", "--log-level", "info"])
        let status = try await child.waitForExit(timeout: .seconds(30))
        if status == nil { try await child.stop(grace: .seconds(1)) }
        let lines = child.output.split(separator: "\n")
        XCTAssertEqual(status, 1, child.output)
        XCTAssertEqual(lines.count, 1, child.output)
        XCTAssertTrue(child.output.contains("unknown queue 'su_cli_missing'") && child.output.contains("RO001"), child.output)
    }

    func testAQueueDroppedWhileTheWorkerRunsIsReportedOnceAndTheOtherQueuesKeepWorking() async throws {
        let url = try await SharedDatabases.shared.url("rota_test_swift_startup")
        let client = RotaClient(connectionString: url)
        // "sd_a" sorts first: before the fix its error ended every claim round before "sd_b".
        try await client.defineQueue("sd_a")
        try await client.defineQueue("sd_b")
        let ran = Recorder<Int64>()
        var handlers = RotaHandlers()
        handlers.register("record") { (_: EmptyPayload, context) in ran.append(context.taskID) }
        let records = Recorder<Record>()
        var configuration = RotaWorkerConfiguration(connectionString: url, queues: ["sd_a": 1, "sd_b": 1],
                                                    executorID: "test-startup-dropped")
        configuration.pollInterval = .milliseconds(100)
        let logger = Logger(label: "rota.test.dropped") { _ in MaintenanceLoggingTests.RecordingLogHandler(records: records) }
        let worker = RotaWorker(configuration: configuration, handlers: handlers, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [worker], logger: quietLogger("rota.test.group")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                let first = try await client.enqueue(queue: "sd_b", task: "record")
                try await waitUntil("the worker ran a task") { ran.all.contains(first) }
                try await client.dropQueue("sd_a")
                for _ in 0..<3 {
                    let id = try await client.enqueue(queue: "sd_b", task: "record")
                    try await waitUntil("the task of the remaining queue ran") { ran.all.contains(id) }
                }
                let reports = records.all.filter { $0.level >= .error }
                XCTAssertEqual(reports.count, 1, "\(reports.map(\.message))")
                XCTAssertTrue(reports.first?.message.contains("queue no longer exists") ?? false)
            } catch {
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        await client.close()
    }

    func testFailuresThatWaitingDoesNotFixStopTheWorkerAtOnce() async throws {
        // scripts/db.sh's cluster trusts every local connection, so a wrong password cannot
        // be tried here: an unknown database (3D000) and an unknown role (28000) can.
        let server = try await TestEnvironment.serverURL()
        var unknownRole = try XCTUnwrap(URLComponents(string: TestEnvironment.url(server, withDatabase: "postgres")))
        unknownRole.user = "rota_no_such_role"
        let cases: [(url: String, code: RotaError.Code, sqlState: String?, names: String)] = [
            (TestEnvironment.url(server, withDatabase: "rota_no_such_database"), .connectionRejected, "3D000",
             "rota_no_such_database"),
            (try XCTUnwrap(unknownRole.string), .connectionRejected, "28000", "rota_no_such_role"),
            ("host=127.0.0.1 no_such_option=1", .invalidConnectionString, nil, "no_such_option"),
        ]
        for (url, code, sqlState, names) in cases {
            let configuration = RotaWorkerConfiguration(connectionString: url, queues: ["q": 1], executorID: "test-startup-rejected")
            let error = try await runUntilItStops(configuration)
            let rotaError = try XCTUnwrap(error as? RotaError, "\(url): \(String(describing: error))")
            XCTAssertEqual(rotaError.code, code, "\(url): \(rotaError)")
            XCTAssertEqual(rotaError.sqlState, sqlState, "\(url): \(rotaError)")
            XCTAssertTrue(rotaError.description.contains(names), rotaError.description)
        }
    }

    func testAnUnreachableDatabaseIsRetriedWithAWarningNamingTheReason() async throws {
        // Nothing listens on port 1: connection refused, as while a database container starts.
        let records = Recorder<Record>()
        let logger = Logger(label: "rota.test.unreachable") { _ in MaintenanceLoggingTests.RecordingLogHandler(records: records) }
        let configuration = RotaWorkerConfiguration(connectionString: "postgresql://rota@127.0.0.1:1/rota",
                                                    queues: ["q": 1], executorID: "test-startup-unreachable")
        let worker = RotaWorker(configuration: configuration, handlers: RotaHandlers(), logger: logger)
        let group = ServiceGroup(configuration: .init(services: [worker], logger: quietLogger("rota.test.group")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                try await waitUntil("the first failure was reported as a warning") {
                    records.all.contains { $0.level == .warning && $0.message.hasPrefix("cannot reach the database") }
                }
            } catch {
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                throw error
            }
            // Still retrying, not stopped: a graceful shutdown ends it.
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        XCTAssertEqual(records.all.filter { $0.level == .warning }.count, 1, "\(records.all.map(\.message))")
    }
}
