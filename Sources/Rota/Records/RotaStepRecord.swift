import Foundation

/// A step checkpoint of a task (a row of the `rota.step_outputs` view).
public struct RotaStepRecord: Sendable, Hashable, Codable {
    /// The step name.
    public var name: String
    /// The attempt whose handler ran the step and recorded it.
    public var attempt: Int
    /// The step's output as JSON text.
    public var output: String
    public var recordedAt: Date

    /// The columns ``init(row:)`` reads.
    static let columns = "step, attempt, output::text AS output, recorded_at"

    init(row: PostgresRow) throws {
        name = try row.decode("step")
        attempt = try row.decode("attempt")
        output = try row.decode("output", as: String?.self) ?? "null"
        recordedAt = try row.decode("recorded_at")
    }
}
