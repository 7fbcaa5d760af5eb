import ArgumentParser
import Rota
import RotaCommandLine

/// `rota check`: the active alerts, for cron jobs, CI and humans.
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Print the active alerts of rota.alerts, one per line; exit 1 when there is any.",
        discussion: """
            Alerts: queue_stuck, retry_storm, schedule_late, dead_executor_tasks, dead_letter_growth; \
            thresholds are set per queue and schedule (rota.define_queue, rota.define_schedule, rota.apply). \
            Exit status: 0 no alert, 1 alerts (or an error), 2 usage error.
            """)
    @OptionGroup var connection: ConnectionOptions
    @Flag(help: "Print the alerts as a JSON array.") var json = false

    func run() async throws {
        let alerts = try await connection.withClient { client in try await client.alerts() }
        if json {
            try printJSON(alerts)
        } else if alerts.isEmpty {
            print("ok: no alerts")
        } else {
            for alert in alerts { print("\(alert.alert): \(alert.message)") }
        }
        if !alerts.isEmpty { throw ExitCode(1) }
    }
}
