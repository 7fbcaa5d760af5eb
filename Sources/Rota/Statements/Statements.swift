/// Every statement the driver sends, one method each, with its SQL text beside it (like
/// River's named queries): ``RotaClient`` and the worker call these and send nothing else,
/// so the SQL API the Swift package depends on can be read in this folder alone.
///
/// Errors come back as ``RotaError`` with `RO` SQLSTATEs named. Arguments the caller leaves
/// unset are left out of the call (named notation), so the SQL function's defaults apply:
/// no default is copied into Swift.
struct Statements: Sendable {
    /// The `NOTIFY` channel of enqueues (payload: the queue).
    static let enqueueChannel = "rota_enqueue"
    /// The `NOTIFY` channel of schedule changes.
    static let schedulesChannel = "rota_schedules"

    let connection: ReconnectingConnection

    /// Runs one statement with bound parameters.
    @discardableResult
    func run(_ sql: String, _ parameters: [any PostgresBindable] = []) async throws -> PostgresRows {
        do {
            return try await connection.query(sql, parameters)
        } catch let error as PostgresError {
            throw error.namingRotaCode()
        }
    }

    /// Installs or upgrades the schema (``RotaSchema/installScript``).
    func migrate() async throws {
        do {
            try await connection.executeScript(RotaSchema.installScript)
        } catch let error as PostgresError {
            throw error.namingRotaCode()
        }
    }
}

/// A call of a `rota` function in named notation (`rota.f(a => $1, b => $2::int)`) holding
/// only the arguments that have a value: the others take the function's defaults.
struct FunctionCall {
    let function: String
    private var arguments: [String] = []
    private(set) var parameters: [any PostgresBindable] = []

    init(_ function: String) { self.function = function }

    /// Adds `name => $n::cast`, or nothing when `value` is nil.
    mutating func add<Value: PostgresBindable>(_ name: String, _ value: Value?, as cast: String? = nil) {
        guard let value else { return }
        parameters.append(value)
        arguments.append("\(name) => $\(parameters.count)" + (cast.map { "::\($0)" } ?? ""))
    }

    /// `rota.f(a => $1, ...)`.
    var sql: String { "\(function)(\(arguments.joined(separator: ", ")))" }
}
