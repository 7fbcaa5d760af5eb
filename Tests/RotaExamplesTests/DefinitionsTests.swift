import Foundation
import Rota
import RotaTestSupport
import RotaExamples
import XCTest

final class DefinitionsTests: XCTestCase {
    func testTheDocumentEncodesToWhatRotaApplyReads() throws {
        let json = try RotaExamples.definitions(accelerated: true).json()
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        XCTAssertEqual(object["version"] as? Int, 1)
        let queues = try XCTUnwrap(object["queues"] as? [[String: Any]])
        XCTAssertEqual(queues.map { $0["name"] as? String }, ["reports", "cleanup"])
        XCTAssertEqual(queues[1]["rate_limit"] as? Int, 20)
        XCTAssertEqual(queues[1]["rate_period"] as? String, "1 second")
        XCTAssertNil(queues[1]["concurrency"], "unset options are left out, so the SQL defaults apply")
        let schedules = try XCTUnwrap(object["schedules"] as? [[String: Any]])
        XCTAssertEqual(schedules[0]["cron"] as? String, "*/10 * * * * *")
        XCTAssertEqual((schedules[0]["payload"] as? [String: Any])?["months"] as? Int, 3)
        XCTAssertEqual(schedules[1]["catch_up"] as? String, "latest")
        XCTAssertEqual(try RotaExamples.definitions(accelerated: false).json(),
                       try RotaExamples.definitions(accelerated: false).json(), "stable text")
    }

    func testApplyingCreatesTheQueuesAndSchedulesOnce() async throws {
        let name = ExamplesTestDatabase.name(for: self)
        let url = try await ExamplesTestDatabase.fresh(name)
        let client = RotaClient(connectionString: url, logger: quietLogger("rota.test.client"))
        addTeardownBlock {
            await client.close()
            await TestEnvironment.dropDatabase(name)
        }
        let production = RotaExamples.definitions(accelerated: false)
        let first = try await production.apply(using: client)
        XCTAssertTrue(first.contains(#""status": "applied""#), first)
        let second = try await production.apply(using: client)
        XCTAssertTrue(second.contains(#""status": "unchanged""#), second)

        let queues = try await client.query("SELECT name, concurrency, rate_limit FROM rota.queues ORDER BY name")
        XCTAssertEqual(try queues.map { try $0.decode("name", as: String.self) }, ["cleanup", "reports"])
        XCTAssertEqual(try queues[1].decode("concurrency", as: Int.self), 4)
        XCTAssertEqual(try queues[0].decode("rate_limit", as: Int.self), 20)
        let schedules = try await client.query("SELECT name, cron, task, payload::text AS payload FROM rota.schedules ORDER BY name")
        XCTAssertEqual(try schedules.map { try $0.decode("cron", as: String.self) }, ["0 3 1 * *", "0 * * * *"])
        XCTAssertEqual(try schedules.map { try $0.decode("task", as: String.self) }, ["reports.fan_out", "cleanup.scan"])

        // The accelerated document has the same version with other content: rejected, nothing changes.
        do {
            try await RotaExamples.definitions(accelerated: true).apply(using: client)
            XCTFail("a different document with the same version must be rejected")
        } catch let error as RotaError {
            XCTAssertEqual(error.code, .invalidDefinitions)
        }
        let cron = try await client.query("SELECT cron FROM rota.schedules WHERE name = 'monthly-reports'")[0].decode("cron", as: String.self)
        XCTAssertEqual(cron, "0 3 1 * *")
    }

    func testTheEmbeddedSchemaIsTheSchemaFile() throws {
        let file = try String(contentsOf: TestEnvironment.repositoryRoot
            .appendingPathComponent("examples/monthly-reports/schema.sql"), encoding: .utf8)
        XCTAssertEqual(MonthlyReports.schemaSQL + "\n", file)
    }

    func testPrepareWorkerCreatesTheTablesAppliesTheDefinitionsAndAddsHandlersAndQueues() async throws {
        let server = try await TestEnvironment.serverURL()
        let name = ExamplesTestDatabase.name(for: self)
        let admin = try await PostgresConnection.connect(server)
        try await admin.executeScript("DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)")
        try await admin.executeScript("CREATE DATABASE \"\(name)\"")
        await admin.close()
        let url = TestEnvironment.url(server, withDatabase: name)
        let client = RotaClient(connectionString: url, logger: quietLogger("rota.test.client"))
        addTeardownBlock {
            await client.close()
            await TestEnvironment.dropDatabase(name)
        }
        try await client.migrate()
        let folder = try TemporaryFolder()
        defer { folder.remove() }

        // three replicas starting at once
        let environment = ["ROTA_EXAMPLES_ACCELERATED": "1", "ROTA_EXAMPLES_STORAGE_DIR": folder.url.path]
        let results = try await withThrowingTaskGroup(of: ([String], [String: Int]).self) { group in
            for _ in 0..<3 {
                group.addTask {
                    var handlers = RotaHandlers()
                    var queues = ["default": 10, "reports": 2]
                    try await RotaExamples.prepareWorker(connectionString: url, environment: environment,
                                                         handlers: &handlers, queues: &queues,
                                                         logger: quietLogger("rota.test.prepare"))
                    return (handlers.taskNames, queues)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for (taskNames, queues) in results {
            XCTAssertEqual(taskNames, ["cleanup.prefix", "cleanup.scan", "reports.fan_out", "reports.generate"])
            XCTAssertEqual(queues, ["default": 10, "reports": 2, "cleanup": 8], "given queues keep their concurrency")
        }
        let tables = try await client.query(
            "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'rota_examples'")[0].decode("n", as: Int.self)
        XCTAssertEqual(tables, 3)
        let cron = try await client.query("SELECT cron FROM rota.schedules WHERE name = 'storage-cleanup'")[0].decode("cron", as: String.self)
        XCTAssertEqual(cron, "*/15 * * * * *")
    }
}
