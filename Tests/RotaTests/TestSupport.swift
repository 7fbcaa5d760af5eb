import Foundation
import Logging
import Rota
import ServiceLifecycle
import Synchronization
import XCTest

/// Where the tests find the database server, the repository and the built `rota` binary.
enum TestEnvironment {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// `$DATABASE_URL` (set by scripts/test-swift.sh), else the project-local cluster (started).
    static func serverURL() throws -> String {
        if let url = environment["DATABASE_URL"], !url.isEmpty { return url }
        let process = Process()
        process.executableURL = repositoryRoot.appendingPathComponent("scripts/db.sh")
        process.arguments = ["start"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let result = (status: process.terminationStatus, output: output)
        guard result.status == 0 else { throw RotaError(.connectionFailed, "scripts/db.sh start failed: \(result.output)") }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The same server, database `name` (URI or key=value strings).
    static func url(_ url: String, withDatabase name: String) -> String {
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://"), var components = URLComponents(string: url) {
            components.path = "/" + name
            return components.string ?? url
        }
        return url + " dbname=\(name)"
    }

    /// Drops and creates database `name` on the test server, installs the schema with
    /// ``RotaClient/migrate(installer:)`` and returns its URL.
    static func freshDatabase(_ name: String) async throws -> String {
        let server = try serverURL()
        let admin = try await PostgresConnection.connect(server)
        try await admin.executeScript("DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)")
        try await admin.executeScript("CREATE DATABASE \"\(name)\"")
        await admin.close()
        let url = url(server, withDatabase: name)
        let client = RotaClient(connectionString: url)
        try await client.migrate()
        await client.close()
        return url
    }

    /// The `rota` executable built by `swift build`.
    static func rotaBinary() throws -> String {
        let path = environment["ROTA_BINARY"] ?? repositoryRoot.appendingPathComponent(".build/debug/rota").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw RotaError(.invalidUsage, "the rota binary is not built at \(path); run `swift build` first")
        }
        return path
    }

    /// Runs a command to completion and returns its exit status and combined output.
    static func runCommand(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let child = try ChildProcess(arguments)
        let status = try await child.waitForExit(timeout: .seconds(120))
        return (status ?? -1, child.output)
    }
}

/// A child process started with posix_spawn, its output in a file, reaped by polling
/// `waitpid(WNOHANG)` (Foundation's `Process.waitUntilExit` can hang in async tests).
final class ChildProcess: @unchecked Sendable {
    let pid: pid_t
    let outputURL: URL
    private var exitStatus: Int32?

    init(_ arguments: [String]) throws {
        outputURL = FileManager.default.temporaryDirectory.appendingPathComponent("rota-test-\(UUID().uuidString).log")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputURL.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, arguments[0], &actions, nil, argv, environ)
        guard result == 0 else {
            throw RotaError(.invalidUsage, "cannot start \(arguments[0]): \(String(cString: strerror(result)))")
        }
        self.pid = pid
    }

    func signal(_ signal: Int32) { if exitStatus == nil { kill(pid, signal) } }

    var isRunning: Bool {
        if exitStatus != nil { return false }
        var status: Int32 = 0
        let reaped = waitpid(pid, &status, WNOHANG)
        guard reaped == pid else { return reaped == 0 }
        // WIFEXITED / WEXITSTATUS, and 128 + signal for a signalled child, as shells report it.
        exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return false
    }

    /// The exit status (128 + signal when killed), or nil when still running at the timeout.
    func waitForExit(timeout: Duration) async throws -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while isRunning {
            if ContinuousClock.now >= deadline { return nil }
            try await Task.sleep(for: .milliseconds(10))
        }
        return exitStatus
    }

    var output: String { (try? String(contentsOf: outputURL, encoding: .utf8)) ?? "" }

    deinit {
        if isRunning {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }
}

/// Databases made once per test run and shared by the tests of one class.
actor SharedDatabases {
    static let shared = SharedDatabases()
    private var urls: [String: String] = [:]

    func url(_ name: String) async throws -> String {
        if let url = urls[name] { return url }
        let url = try await TestEnvironment.freshDatabase(name)
        urls[name] = url
        return url
    }
}

/// Polls `condition` until it holds or `timeout` passes (errors count as "not yet", so a
/// poll survives a database restart). Fails the test on timeout.
@discardableResult
func waitUntil(_ description: String, timeout: Duration = .seconds(20), every interval: Duration = .milliseconds(20),
               file: StaticString = #filePath, line: UInt = #line,
               _ condition: () async throws -> Bool) async throws -> Duration {
    let clock = ContinuousClock()
    let start = clock.now
    var lastError: (any Error)?
    while clock.now - start < timeout {
        do {
            if try await condition() { return clock.now - start }
        } catch {
            lastError = error
        }
        try await Task.sleep(for: interval)
    }
    XCTFail("timed out after \(timeout) waiting until \(description)\(lastError.map { " (last error: \($0))" } ?? "")",
            file: file, line: line)
    throw RotaError(.timeout, "timed out waiting until \(description)")
}

/// A thread-safe list of things handlers saw, for assertions.
final class Recorder<Element: Sendable>: Sendable {
    private let items = Mutex<[Element]>([])
    func append(_ item: Element) { items.withLock { $0.append(item) } }
    var all: [Element] { items.withLock { $0 } }
    var count: Int { items.withLock { $0.count } }
}

func quietLogger(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = ProcessInfo.processInfo.environment["ROTA_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .error
    return logger
}

/// Runs a worker in a service group while `body` runs, then shuts it down gracefully and
/// waits for it to finish.
func withWorker(url: String, queues: [String: Int], handlers: RotaHandlers,
                configure: (inout RotaWorkerConfiguration) -> Void = { _ in },
                _ body: (RotaWorker, ServiceGroup) async throws -> Void) async throws {
    var configuration = RotaWorkerConfiguration(connectionString: url, queues: queues,
                                                executorID: "test-\(UInt32.random(in: 0...UInt32.max))")
    configuration.pollInterval = .milliseconds(200)
    configure(&configuration)
    let logger = quietLogger("rota.test.worker")
    let worker = RotaWorker(configuration: configuration, handlers: handlers, logger: logger)
    let group = ServiceGroup(configuration: .init(services: [worker], logger: logger))
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

extension RotaClient {
    /// The state of a task (nil when there is no such task).
    func state(of id: Int64) async throws -> String? {
        try await query("SELECT state FROM rota.tasks WHERE id = $1::bigint", [id]).first?.decode("state")
    }
}
