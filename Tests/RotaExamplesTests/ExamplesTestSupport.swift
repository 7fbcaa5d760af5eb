import Foundation
import Logging
import Rota
import RotaExamples
import ServiceLifecycle
import XCTest

/// The real PostgreSQL the example tests run against, and a fresh database per test.
enum ExamplesTestDatabase {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `$DATABASE_URL`, else the project-local cluster (started by scripts/db.sh).
    static func serverURL() throws -> String {
        if let url = ProcessInfo.processInfo.environment["DATABASE_URL"], !url.isEmpty { return url }
        let process = Process()
        process.executableURL = repositoryRoot.appendingPathComponent("scripts/db.sh")
        process.arguments = ["start"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw RotaError(.connectionFailed, "scripts/db.sh start failed") }
        return String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func url(_ url: String, withDatabase name: String) -> String {
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://"), var components = URLComponents(string: url) {
            components.path = "/" + name
            return components.string ?? url
        }
        return url + " dbname=\(name)"
    }

    /// A new database `name` with the rota schema, the examples' tables and their queues
    /// and schedules (the production definitions: nothing fires during a test).
    static func fresh(_ name: String) async throws -> String {
        let server = try serverURL()
        let admin = try await PostgresConnection.connect(server)
        try await admin.executeScript("DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)")
        try await admin.executeScript("CREATE DATABASE \"\(name)\"")
        await admin.close()
        let url = url(server, withDatabase: name)
        let client = RotaClient(connectionString: url, logger: quietLogger("rota.test.setup"))
        try await client.migrate()
        await client.close()
        let connection = try await PostgresConnection.connect(url)
        let schema = try String(contentsOf: repositoryRoot.appendingPathComponent("examples/monthly-reports/schema.sql"),
                                encoding: .utf8)
        try await connection.executeScript(schema)
        await connection.close()
        return url
    }

    /// Drops database `name` (best effort: a leftover is dropped by the next run anyway).
    static func drop(_ name: String) async {
        guard let server = try? serverURL(), let admin = try? await PostgresConnection.connect(server) else { return }
        try? await admin.executeScript("DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)")
        await admin.close()
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
            await ExamplesTestDatabase.drop(name)
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

    /// Enqueues a parent task the way a schedule fire does and returns its id.
    func enqueueFire(queue: String, task: String, schedule: String, at instant: String) async throws -> Int64 {
        try await client.enqueue(queue: queue, task: task,
                                 payloadJSON: PostgresJSON(text: #"{"schedule": "\#(schedule)", "scheduled_at": "\#(instant)"}"#),
                                 options: EnqueueOptions(key: "schedule:\(schedule):\(instant)"))
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

func quietLogger(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = ProcessInfo.processInfo.environment["ROTA_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .error
    return logger
}

func instant(_ text: String) -> Date {
    guard let date = UTCTimestamp.parse(text) else { fatalError("bad test instant \(text)") }
    return date
}

/// Polls `condition` until it holds or `timeout` passes; fails the test on timeout.
func waitUntil(_ description: String, timeout: Duration = .seconds(30),
               file: StaticString = #filePath, line: UInt = #line,
               _ condition: () async throws -> Bool) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if (try? await condition()) == true { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    XCTFail("timed out after \(timeout) waiting until \(description)", file: file, line: line)
    throw RotaError(.timeout, "timed out waiting until \(description)")
}

/// Runs a worker with `handlers` while `body` runs, then shuts it down gracefully.
func withExamplesWorker(url: String, handlers: RotaHandlers, _ body: () async throws -> Void) async throws {
    var configuration = RotaWorkerConfiguration(connectionString: url, queues: RotaExamples.workerQueues,
                                                executorID: "examples-test-\(UInt32.random(in: 0...UInt32.max))")
    configuration.pollInterval = .milliseconds(200)
    // The test fires schedules itself (rota.trigger_schedule), so cron timing cannot interfere.
    configuration.runsSchedules = false
    let logger = quietLogger("rota.test.worker")
    let worker = RotaWorker(configuration: configuration, handlers: handlers, logger: logger)
    let group = ServiceGroup(configuration: .init(services: [worker], logger: logger))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        do {
            try await body()
        } catch {
            await group.triggerGracefulShutdown()
            try? await tasks.waitForAll()
            throw error
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}
