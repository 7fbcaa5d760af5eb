import ArgumentParser
import Foundation
import Logging
import Rota

/// The connection options every command takes.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .long, help: "libpq connection string or URI (default: $DATABASE_URL, else libpq defaults and PG* variables).")
    var databaseURL: String?

    /// --database-url, else $DATABASE_URL, else "" (libpq defaults).
    var connectionString: String {
        if let databaseURL { return databaseURL }
        return ProcessInfo.processInfo.environment["DATABASE_URL"] ?? ""
    }

    /// Runs `body` with a client that is closed afterwards, also when `body` throws.
    func withClient<Result: Sendable>(_ body: (RotaClient) async throws -> Result) async throws -> Result {
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
    static func seconds(parsing value: Double) -> Duration {
        .milliseconds(Int64((value * 1000).rounded()))
    }
}

/// Parses `2026-11-26T12:00:00Z`, with fractional seconds or an offset, or a date and time
/// with a space.
func parseTimestamp(_ text: String) throws -> Date {
    let formatter = ISO8601DateFormatter()
    for options: ISO8601DateFormatter.Options in [[.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime]] {
        formatter.formatOptions = options
        if let date = formatter.date(from: text.replacingOccurrences(of: " ", with: "T")) { return date }
    }
    throw ValidationError("--run-at: not an ISO 8601 timestamp with a time zone: \(text) (e.g. 2026-11-26T12:00:00Z)")
}
