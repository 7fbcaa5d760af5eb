import Foundation
import Rota
import RotaChildProcess

/// Where the tests find the database server, the repository and the built `rota` binary.
public enum TestEnvironment {
    /// The repository's root folder.
    public static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// `$DATABASE_URL` (set by scripts/test-swift.sh), else the project-local cluster (started).
    public static func serverURL() async throws -> String {
        if let url = environment["DATABASE_URL"], !url.isEmpty { return url }
        let result = try await runCommand([repositoryRoot.appendingPathComponent("scripts/db.sh").path, "start"])
        guard result.status == 0 else { throw RotaError(.connectionFailed, "scripts/db.sh start failed: \(result.output)") }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The same server, database `name`.
    public static func url(_ url: String, withDatabase name: String) -> String {
        ConnectionString.replacingDatabase(in: url, with: name)
    }

    /// Drops and creates database `name` on the test server, installs the schema with
    /// ``RotaClient/migrate(installer:)`` and returns its URL.
    public static func freshDatabase(_ name: String) async throws -> String {
        let server = try await serverURL()
        let admin = try await PostgresConnection.connect(server)
        try await admin.executeScript("DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)")
        try await admin.executeScript("CREATE DATABASE \"\(name)\"")
        await admin.close()
        let url = url(server, withDatabase: name)
        let client = RotaClient(connectionString: url, logger: quietLogger("rota.test.setup"))
        try await client.migrate()
        await client.close()
        return url
    }

    /// Drops database `name` (best effort: a leftover is dropped by the next run anyway).
    public static func dropDatabase(_ name: String) async {
        guard let server = try? await serverURL(), let admin = try? await PostgresConnection.connect(server) else { return }
        try? await admin.executeScript("DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)")
        await admin.close()
    }

    /// The `rota` executable built by `swift build` (`$ROTA_BINARY` when set).
    public static func rotaBinary() throws -> String {
        let path = environment["ROTA_BINARY"] ?? repositoryRoot.appendingPathComponent(".build/debug/rota").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw RotaError(.invalidUsage, "the rota binary is not built at \(path); run `swift build` first")
        }
        return path
    }

    /// Runs a command to completion and returns its exit status and combined output.
    public static func runCommand(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let child = try ChildProcess(arguments)
        let status = try await child.waitForExit(timeout: .seconds(120))
        defer { try? FileManager.default.removeItem(atPath: child.logPath) }
        return (status ?? -1, child.output)
    }
}
