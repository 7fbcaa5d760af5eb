import Foundation
import Logging
import Synchronization

/// The application's handle on Rota: enqueue tasks, define and manage queues, inspect state.
///
/// Every call is one statement of the `rota` SQL API over one connection (statements from
/// concurrent callers run one after another). When the connection breaks, the next call
/// reconnects (retrying for up to `connectTimeout`); the call that saw the break fails with
/// ``RotaError/Code/connectionLost``, since its outcome is unknown.
public final class RotaClient: Sendable {
    let connection: ReconnectingConnection
    let statements: Statements
    /// The logger used for connection messages.
    public let logger: Logger
    let encoder: JSONEncoder
    let decoder: JSONDecoder
    /// The waits for tasks' final states (``result(of:as:timeout:)``), over one listening connection.
    let resultWaiters: TaskResultWaiters
    /// The worker made with this client while it runs: where ``start(queue:task:payload:options:)`` runs tasks.
    let localWorker = Mutex<WorkerRuntime?>(nil)

    /// - Parameters:
    ///   - connectionString: a libpq connection string; empty uses libpq's defaults and `PG*`.
    ///   - connectTimeout: how long to keep retrying to connect before a call fails.
    public init(connectionString: String = "", logger: Logger = Logger(label: "rota.client"),
                connectTimeout: Duration? = .seconds(10)) {
        self.connection = ReconnectingConnection(connectionString: connectionString, logger: logger,
                                                 connectTimeout: connectTimeout)
        self.statements = Statements(connection: connection)
        self.logger = logger
        self.resultWaiters = TaskResultWaiters(connectionString: connectionString, logger: logger)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        self.encoder = encoder
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        self.decoder = decoder
    }

    /// The connection string this client was made with.
    public var connectionString: String { connection.connectionString }

    /// Runs any statement with bound parameters, for what the typed API does not cover.
    @discardableResult
    public func query(_ sql: String, _ parameters: [any PostgresBindable] = []) async throws -> PostgresRows {
        try await statements.run(sql, parameters)
    }

    /// Closes the connection and the one that waits for results (a later call opens new ones).
    public func close() async {
        resultWaiters.close()
        await connection.close()
    }

    /// Installs or upgrades the schema with the script compiled into this library
    /// (``RotaSchema/installScript``, the same as `psql -f sql/install.sql`).
    /// Safe to run twice and from several processes at once.
    public func migrate() async throws {
        try await statements.migrate()
    }

    func json<T: Encodable>(_ value: T) throws -> PostgresJSON {
        if let raw = value as? RawJSON { return PostgresJSON(text: raw.text) }
        return try PostgresJSON(encoding: value, encoder: encoder)
    }
}

/// JSON text passed through as is, for payloads that are already serialized.
public struct RawJSON: Codable, Sendable, Hashable {
    /// The JSON text.
    public var text: String
    /// Wraps JSON text (validated by the server).
    public init(_ text: String) { self.text = text }
    public init(from decoder: any Decoder) throws {
        throw RotaError(.invalidUsage, "RawJSON is only for sending JSON")
    }
    public func encode(to encoder: any Encoder) throws {
        throw RotaError(.invalidUsage, "RawJSON is passed through without encoding")
    }
}
