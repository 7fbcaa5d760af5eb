/// A cron expression in words, for the common shapes; anything else is shown as
/// "cron <expression>". Exact semantics live in `rota.cron_next`.
enum CronDescription {
    private static let weekdays = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    private static let macros = [
        "@hourly": "every hour", "@daily": "every day at 00:00", "@midnight": "every day at 00:00",
        "@weekly": "every Sunday at 00:00", "@monthly": "on day 1 of every month at 00:00",
        "@yearly": "every 1 January at 00:00", "@annually": "every 1 January at 00:00",
    ]

    static func describe(_ cron: String, timezone: String) -> String {
        let zone = timezone == "UTC" ? " (UTC)" : " (\(timezone))"
        if let macro = macros[cron.lowercased()] { return macro + zone }
        var fields = cron.split(separator: " ").map(String.init)
        var seconds: String?
        if fields.count == 6 { seconds = fields.removeFirst() }
        guard fields.count == 5 else { return "cron \(cron)" }
        let (minute, hour, dayOfMonth, month, dayOfWeek) = (fields[0], fields[1], fields[2], fields[3], fields[4])
        if let seconds, seconds != "0" {
            if seconds.hasPrefix("*/"), fields.allSatisfy({ $0 == "*" }) { return "every \(seconds.dropFirst(2)) seconds" }
            if seconds == "*", fields.allSatisfy({ $0 == "*" }) { return "every second" }
            return "cron \(cron)" + zone
        }
        guard month == "*" else { return "cron \(cron)" + zone }
        if fields.allSatisfy({ $0 == "*" }) { return "every minute" }
        if minute.hasPrefix("*/"), [hour, dayOfMonth, dayOfWeek].allSatisfy({ $0 == "*" }) {
            return "every \(minute.dropFirst(2)) minutes"
        }
        guard let m = Int(minute) else { return "cron \(cron)" + zone }
        if hour == "*", dayOfMonth == "*", dayOfWeek == "*" { return "every hour at minute \(m)" }
        if hour.hasPrefix("*/"), dayOfMonth == "*", dayOfWeek == "*" {
            return "every \(hour.dropFirst(2)) hours at minute \(m)"
        }
        guard let h = Int(hour) else { return "cron \(cron)" + zone }
        let time = String(format: "%02d:%02d", h, m)
        switch (dayOfMonth, dayOfWeek) {
        case ("*", "*"): return "every day at \(time)" + zone
        case ("*", "1-5"), ("*", "mon-fri"), ("*", "MON-FRI"): return "weekdays at \(time)" + zone
        case ("*", let day):
            if let index = Int(day), weekdays.indices.contains(index) { return "every \(weekdays[index]) at \(time)" + zone }
            return "cron \(cron)" + zone
        case (let day, "*"):
            if let number = Int(day) { return "on day \(number) of every month at \(time)" + zone }
            return "cron \(cron)" + zone
        default: return "cron \(cron)" + zone
        }
    }
}
