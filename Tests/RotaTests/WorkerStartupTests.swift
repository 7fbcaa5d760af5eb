import Foundation
import Logging
@testable import Rota
import RotaChildProcess
import RotaTestSupport
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
        let logger = Logger(label: "rota.test.dropped") { _ in MaintenanceLoggingTests.RecordingLogHandler(records: records) }
        try await withWorker(url: url, queues: ["sd_a": 1, "sd_b": 1], handlers: handlers, logger: logger,
                             configure: { $0.pollInterval = .milliseconds(100) }) { _, _ in
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
        }
        await client.close()
    }

    func testFailuresThatWaitingDoesNotFixStopTheWorkerAtOnce() async throws {
        // scripts/db.sh's cluster trusts every local connection, so a wrong password cannot
        // be tried here: an unknown database (3D000) and an unknown role (28000) can.
        let server = try await TestEnvironment.serverURL()
        let admin = try await PostgresConnection.connect(server)
        try await admin.executeScript("""
            DO $$BEGIN CREATE ROLE rota_test_nologin NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END$$
            """)
        await admin.close()
        func asUser(_ user: String) throws -> String {
            var components = try XCTUnwrap(URLComponents(string: TestEnvironment.url(server, withDatabase: "postgres")))
            components.user = user
            return try XCTUnwrap(components.string)
        }
        let cases: [(url: String, code: RotaError.Code, sqlState: String?, names: String)] = [
            (TestEnvironment.url(server, withDatabase: "rota_no_such_database"), .connectionRejected, "3D000",
             "rota_no_such_database"),
            (try asUser("rota_no_such_role"), .connectionRejected, "28000", "rota_no_such_role"),
            (try asUser("rota_test_nologin"), .connectionRejected, "28000", "not permitted to log in"),
            ("host=127.0.0.1 no_such_option=1", .invalidConnectionString, nil, "no_such_option"),
            ("postgresql://rota@127.0.0.1:port/rota", .invalidConnectionString, nil, "\"port\""),
        ]
        for (url, code, sqlState, names) in cases {
            let configuration = RotaWorkerConfiguration(connectionString: url, queues: ["q": 1], executorID: "test-startup-rejected")
            let error = try await runUntilItStops(configuration)
            let rotaError = try XCTUnwrap(error as? RotaError, "\(url): \(String(describing: error))")
            XCTAssertEqual(rotaError.code, code, "\(url): \(rotaError)")
            XCTAssertEqual(rotaError.sqlState, sqlState, "\(url): \(rotaError)")
            XCTAssertTrue(rotaError.description.contains(names), rotaError.description)
        }
        let cleanup = try await PostgresConnection.connect(server)
        try await cleanup.executeScript("DROP ROLE rota_test_nologin")
        await cleanup.close()
    }

    func testAWrongPasswordIsAFailureThatWaitingDoesNotFix() {
        // What libpq 15 reports for a wrong password (the test cluster trusts every local
        // connection, so the server cannot be made to say it here).
        let message = "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  password authentication failed for user \"rota\""
        let error = ConnectionFailure.error(message: message, needsPassword: false)
        XCTAssertEqual(error.code, .connectionRejected)
        XCTAssertEqual(error.sqlState, "28P01")
        XCTAssertEqual(ConnectionFailure.error(message: "fe_sendauth: no password supplied", needsPassword: true).sqlState, "28P01")
        let refused = ConnectionFailure.error(message: "connection to server at \"127.0.0.1\", port 1 failed: Connection refused",
                                              needsPassword: false)
        XCTAssertEqual(refused.code, .connectionFailed)
        XCTAssertTrue(refused.isConnectionError && !refused.isPermanentConnectionFailure)
    }

    func testAnUnreachableDatabaseIsRetriedWithOneWarning() async throws {
        // Nothing listens on port 1: connection refused, as while a database container starts.
        let records = Recorder<Record>()
        let logger = Logger(label: "rota.test.unreachable") { _ in MaintenanceLoggingTests.RecordingLogHandler(records: records) }
        // Still retrying, not stopped, when the body ends: the graceful shutdown ends it.
        try await withWorker(url: "postgresql://rota@127.0.0.1:1/rota", queues: ["q": 1], handlers: RotaHandlers(),
                             logger: logger) { _, _ in
            try await waitUntil("the first failure was reported as a warning") {
                records.all.contains { $0.level == .warning && $0.message.hasPrefix("cannot reach the database") }
            }
        }
        XCTAssertEqual(records.all.filter { $0.level == .warning }.count, 1, "\(records.all.map(\.message))")
    }
}
