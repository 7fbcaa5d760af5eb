import Foundation
import Logging
import Rota
import RotaTestSupport
import RotaExamples
import ServiceLifecycle
import XCTest

/// A fresh database per example test, on the server of ``TestEnvironment``.
enum ExamplesTestDatabase {
    /// A new database `name` with the rota schema, the examples' tables and their queues
    /// and schedules (the production definitions: nothing fires during a test).
    static func fresh(_ name: String) async throws -> String {
        let url = try await TestEnvironment.freshDatabase(name)
        let connection = try await PostgresConnection.connect(url)
        try await connection.executeScript(MonthlyReports.schemaSQL)
        await connection.close()
        return url
    }

    /// A database name for the calling test: `rx_<class>_<test>`, lowercased, within 63 bytes.
    static func name(for test: XCTestCase) -> String {
        let raw = "rx_" + test.name.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "_" }
        return String(String(raw).prefix(60))
    }
}

/// A test's own database and client, with the examples' definitions applied.
struct ExamplesFixture {
    let url: String
    let client: RotaClient

    static func make(for test: XCTestCase) async throws -> ExamplesFixture {
        let name = ExamplesTestDatabase.name(for: test)
        let url = try await ExamplesTestDatabase.fresh(name)
        let client = RotaClient(connectionString: url, logger: quietLogger("rota.test.client"))
        test.addTeardownBlock {
            await client.close()
            await TestEnvironment.dropDatabase(name)
        }
        try await RotaExamples.definitions(accelerated: false).apply(using: client)
        return ExamplesFixture(url: url, client: client)
    }

    /// Adds tenants `ids` named `Tenant <id>`.
    func addTenants(_ ids: ClosedRange<Int64>) async throws {
        try await client.query(
            "INSERT INTO rota_examples.tenants (id, name) SELECT g, 'Tenant ' || g FROM generate_series($1::bigint, $2::bigint) g",
            [ids.lowerBound, ids.upperBound])
    }

    /// Adds an order.
    func addOrder(tenant: Int64, amount: String, at instant: String) async throws {
        try await client.query(
            "INSERT INTO rota_examples.orders (tenant_id, amount, created_at) VALUES ($1::bigint, $2::numeric, $3::timestamptz)",
            [tenant, amount, instant])
    }

    /// Enqueues a parent task the way a schedule fire does (through the scheduler's own
    /// path: users may not enqueue `schedule:` keys) and returns its id.
    func enqueueFire(queue: String, task: String, schedule: String, at instant: String) async throws -> Int64 {
        try await client.query(
            """
            SELECT rota._enqueue('rota.fire_due', $1, $2,
                                 ARRAY[jsonb_build_object('schedule', $3::text, 'scheduled_at', $4::text)],
                                 ARRAY['schedule:' || $3 || ':' || $4], NULL, 0, NULL, NULL, NULL) AS id
            """, [queue, task, schedule, instant])[0].decode("id")
    }

    /// Enqueues `task` with `payload` and waits until it has ended (a worker must be running).
    func run<Payload: Encodable & Sendable>(queue: String, task: String, payload: Payload) async throws -> RotaTaskRecord {
        let id = try await client.enqueue(queue: queue, task: task, payload: payload)
        var ended: RotaTaskRecord?
        try await waitUntil("task \(id) ended") {
            ended = try await client.task(id: id)
            return [.succeeded, .failed, .cancelled].contains(ended?.state)
        }
        return try XCTUnwrap(ended)
    }

    /// The result of a task that succeeded, decoded as `Result`.
    func result<Result: Decodable>(of task: RotaTaskRecord, as type: Result.Type = Result.self,
                                   file: StaticString = #filePath, line: UInt = #line) throws -> Result {
        XCTAssertEqual(task.state, .succeeded, task.lastError ?? "no error", file: file, line: line)
        return try JSONDecoder().decode(Result.self, from: Data(try XCTUnwrap(task.result, file: file, line: line).utf8))
    }

    func count(_ sql: String, _ parameters: [any PostgresBindable] = []) async throws -> Int {
        try await client.query(sql, parameters)[0].decode(at: 0, as: Int.self)
    }
}

/// A folder under the system's temporary folder, removed by `remove()`.
struct TemporaryFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("rota-examples-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// Writes `bytes` bytes to `key` and sets its modification time.
    func write(_ key: String, bytes: Int = 10, modifiedAt: Date) throws {
        let file = url.appendingPathComponent(key)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(repeating: 0x2a, count: bytes).write(to: file)
        try FileManager.default.setAttributes([.modificationDate: modifiedAt], ofItemAtPath: file.path)
    }

    func exists(_ key: String) -> Bool {
        FileManager.default.fileExists(atPath: url.appendingPathComponent(key).path)
    }

    func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}

func instant(_ text: String) -> Date {
    guard let date = UTCTimestamp.parse(text) else { fatalError("bad test instant \(text)") }
    return date
}

/// Runs a worker with the examples' queues and `handlers` while `body` runs, then shuts it
/// down gracefully. The tests fire schedules themselves (rota.trigger_schedule), so cron
/// timing cannot interfere.
func withExamplesWorker(url: String, handlers: RotaHandlers, _ body: () async throws -> Void) async throws {
    try await withWorker(url: url, queues: RotaExamples.workerQueues, handlers: handlers,
                         configure: { $0.runsSchedules = false }) { _, _ in try await body() }
}
