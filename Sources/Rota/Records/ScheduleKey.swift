import Foundation

/// The task key a schedule fire gives its task: `schedule:<name>:<fire_at in ISO 8601 UTC>`.
/// Read only while `rota.claim` does not return the fire instant itself (see ``ClaimedTask``).
enum ScheduleKey {
    /// The fire instant in a schedule key (names may contain colons); nil for other keys.
    static func fireInstant(inKey key: String?) -> Date? {
        guard let key, key.hasPrefix("schedule:") else { return nil }
        let rest = key.dropFirst("schedule:".count)
        var index = rest.startIndex
        while let colon = rest[index...].firstIndex(of: ":") {
            if let date = UTCTimestamp.parse(String(rest[rest.index(after: colon)...])) { return date }
            index = rest.index(after: colon)
        }
        return nil
    }
}
