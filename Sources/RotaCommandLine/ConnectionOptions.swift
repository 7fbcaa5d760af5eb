import ArgumentParser
import Foundation
import Logging
import Rota

/// The connection options every command takes.
public struct ConnectionOptions: ParsableArguments {
    @Option(name: .long, help: "libpq connection string or URI (default: $DATABASE_URL, else libpq defaults and PG* variables).")
    public var databaseURL: String?

    public init() {}

    /// --database-url, else $DATABASE_URL, else "" (libpq defaults).
    public var connectionString: String {
        if let databaseURL { return databaseURL }
        return ProcessInfo.processInfo.environment["DATABASE_URL"] ?? ""
    }

    /// Runs `body` with a client that is closed afterwards, also when `body` throws.
    public func withClient<Result: Sendable>(_ body: (RotaClient) async throws -> Result) async throws -> Result {
        // A command line should fail fast when the database is not there.
        let client = RotaClient(connectionString: connectionString, logger: Logger(label: "rota.cli"), connectTimeout: .zero)
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }
}

extension Duration {
    /// A duration from a number of seconds given on the command line.
    public static func seconds(parsing value: Double) -> Duration {
        .milliseconds(Int64((value * 1000).rounded()))
    }
}
