import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Rota
import RotaChildProcess
import RotaTestSupport
import XCTest

/// A `rota worker` child process of these tests.
final class WorkerProcess {
    let child: ChildProcess
    let metricsPort: Int?

    init(url: String, queues: String, executorID: String, metricsPort: Int? = nil, extra: [String] = []) throws {
        self.metricsPort = metricsPort
        child = try ChildProcess([try TestEnvironment.rotaBinary(), "worker", "--database-url", url, "--queues", queues,
                                  "--executor-id", executorID, "--poll", "0.2", "--log-level", "warning"]
                                 + (metricsPort.map { ["--metrics-port", "\($0)"] } ?? []) + extra)
    }

    /// SIGTERM and wait for the graceful exit.
    func stop() async throws { try await child.stop() }
}

/// HTTP GET on 127.0.0.1: status and body.
func httpGet(_ port: Int, _ path: String) async throws -> (status: Int, body: String) {
    let url = URL(string: "http://127.0.0.1:\(port)\(path)")!
    let (data, response) = try await URLSession.shared.data(from: url)
    return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
}

/// A TCP port nobody listens on right now (bound to 0 and released).
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw RotaError(.invalidUsage, "socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw RotaError(.invalidUsage, "bind() failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// The path of a program on PATH, or nil.
func which(_ program: String) -> String? {
    for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
        let path = "\(directory)/\(program)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
}

/// A program this test needs; the test fails (does not skip) without it: scripts/deps.sh installs them.
func requireProgram(_ program: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
    guard let path = which(program) else {
        XCTFail("\(program) is not installed; scripts/deps.sh installs it", file: file, line: line)
        throw RotaError(.invalidUsage, "\(program) missing")
    }
    return path
}

/// Runs `promtool check metrics` on `text`; returns its exit status and output.
func promtoolCheck(_ text: String) async throws -> (status: Int32, output: String) {
    let promtool = try requireProgram("promtool")
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("rota-metrics-\(UUID().uuidString).txt")
    try text.write(to: file, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: file) }
    return try await TestEnvironment.runCommand(["/bin/sh", "-c", "\"$0\" check metrics < \"$1\"", promtool, file.path])
}

extension RotaClient {
    /// The value of one SQL count.
    func count(_ sql: String, _ parameters: [any PostgresBindable] = []) async throws -> Int {
        try await query(sql, parameters).first?.decode(at: 0, as: Int.self) ?? 0
    }

    /// The active alerts as "alert:queue-or-schedule-or-executor" strings.
    func alertKeys() async throws -> Set<String> {
        Set(try await alerts().map { "\($0.alert):\($0.schedule ?? $0.executor ?? $0.queue ?? "")" })
    }
}
