/// What a schedule does about fires missed while nothing ran (`catch_up` of
/// `rota.define_schedule`).
public enum CatchUpPolicy: String, Sendable, Hashable, Codable, CaseIterable, PostgresTextEnum {
    /// `none`: missed fires are skipped.
    case skip = "none"
    /// `latest`: the most recent missed fire runs once.
    case latest
    /// `all`: every missed fire runs (at most `catch_up_max`, the newest kept).
    case all
}
