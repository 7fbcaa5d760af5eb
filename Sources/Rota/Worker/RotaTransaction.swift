/// The database transaction of a transactional step (``TaskContext/transaction(_:_:)``):
/// what the handler runs here commits together with the step's checkpoint, or not at all.
/// Valid only inside the step's closure.
public struct RotaTransaction: Sendable {
    let connection: PostgresConnection

    /// Runs one statement with bound parameters (`$1`, `$2`, ...) inside the transaction.
    @discardableResult
    public func query(_ sql: String, _ parameters: [any PostgresBindable] = []) async throws -> PostgresRows {
        do {
            return try await connection.query(sql, parameters)
        } catch let error as PostgresError {
            throw error.namingRotaCode()
        }
    }
}
