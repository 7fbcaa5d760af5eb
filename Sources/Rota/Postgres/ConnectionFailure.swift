import CLibPQ
import Foundation

/// Tells connection failures that waiting may heal (the server is not up yet, the network
/// is not ready) from those it never heals (a wrong password, an unknown database, an
/// unparsable connection string), so that a process can fail fast on the latter.
enum ConnectionFailure {
    /// Server messages (regular expressions) of startup failures that waiting does not fix,
    /// with their SQLSTATE. libpq keeps the SQLSTATE of a failed connection to itself (only
    /// the text reaches `PQerrorMessage`), so the server's message is matched instead.
    static let permanentServerMessages: [(pattern: String, sqlState: String)] = [
        ("password authentication failed for user", "28P01"),
        ("authentication failed for user", "28000"),
        ("no pg_hba\\.conf entry for", "28000"),
        ("pg_hba\\.conf rejects connection", "28000"),
        ("role \".*\" does not exist", "28000"),
        ("role \".*\" is not permitted to log in", "28000"),
        ("database \".*\" does not exist", "3D000"),
    ]

    /// libpq's messages for option values it checks only when connecting (a port that is
    /// not a number, an unknown sslmode, more ports than hosts).
    static let invalidOptionMessages = [
        "invalid integer value \".*\" for connection option",
        "invalid port number: ",
        "invalid [a-z_]+ value: ",
        "could not match [0-9]+ [a-z ]+ to [0-9]+",
    ]

    /// The error of a failed connection attempt with libpq's `message`.
    static func error(message: String, needsPassword: Bool) -> PostgresError {
        func matches(_ pattern: String) -> Bool { message.range(of: pattern, options: .regularExpression) != nil }
        let text = "cannot connect to PostgreSQL: \(message)"
        if needsPassword { return PostgresError(.connectionRejected, text, sqlState: "28P01") }
        if let match = permanentServerMessages.first(where: { matches($0.pattern) }) {
            return PostgresError(.connectionRejected, text, sqlState: match.sqlState)
        }
        if invalidOptionMessages.contains(where: matches) {
            return PostgresError(.invalidConnectionString, "invalid connection string: \(message)")
        }
        return PostgresError(.connectionFailed, text)
    }

    /// Throws ``PostgresError/Code/invalidConnectionString`` when libpq cannot parse
    /// `connectionString` (the message names the offending part, never a password).
    static func checkParses(_ connectionString: String) throws {
        var parseError: UnsafeMutablePointer<CChar>?
        if let options = PQconninfoParse(connectionString, &parseError) {
            PQconninfoFree(options)
            return
        }
        let reason = parseError.map { String(cString: $0) }?
            .split(whereSeparator: \.isNewline).joined(separator: " ") ?? "out of memory"
        if let parseError { PQfreemem(parseError) }
        throw PostgresError(.invalidConnectionString, "invalid connection string: \(reason)")
    }
}
