import ArgumentParser
import Foundation
import Rota
import RotaCommandLine

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show queues, executors and schedules.")
    @OptionGroup var connection: ConnectionOptions
    @Flag(help: "Print JSON instead of tables.") var json = false

    struct Report: Encodable {
        var queues: [RotaQueueStats]
        var executors: [RotaExecutorStatus]
        var schedules: [RotaScheduleStatus]
    }

    func run() async throws {
        let report = try await connection.withClient { client in
            Report(queues: try await client.queueStats(), executors: try await client.executorStatus(),
                   schedules: try await client.scheduleStatus())
        }
        if json {
            try printJSON(report)
            return
        }
        var queues = TextTable(["QUEUE", "READY", "DELAYED", "RUNNING", "WAITING", "SUCCEEDED", "FAILED", "CANCELLED",
                                "OLDEST READY", "CONCURRENCY", "RATE", "PAUSED"])
        for q in report.queues {
            let rate = q.rateLimit.map { "\($0)/\(q.ratePeriodSeconds.map { String(format: "%gs", $0) } ?? "?")" } ?? "-"
            queues.add([q.queue, "\(q.ready)", "\(q.delayed)", "\(q.running)", "\(q.waiting)", "\(q.succeeded)", "\(q.failed)",
                        "\(q.cancelled)", q.oldestReadyAgeSeconds.map { String(format: "%.1fs", $0) } ?? "-",
                        q.concurrency.map { "\(q.slotsInUse)/\($0)" } ?? "-", rate, q.paused ? "yes" : "no"])
        }
        print(report.queues.isEmpty ? "no queues" : queues.render())
        print("")
        var executors = TextTable(["EXECUTOR", "HOST", "PID", "ALIVE", "RUNNING", "LAST HEARTBEAT", "QUEUES"])
        for e in report.executors {
            executors.add([e.executor, e.host ?? "", e.pid.map(String.init) ?? "",
                           e.alive ? "yes" : (e.stopped ? "stopped" : "no"), "\(e.running)",
                           isoString(e.lastHeartbeatAt), e.queues.joined(separator: ",")])
        }
        print(report.executors.isEmpty ? "no executors" : executors.render())
        print("")
        var schedules = TextTable(["SCHEDULE", "CRON", "ZONE", "QUEUE/TASK", "ENABLED", "NEXT FIRE", "LAST FIRE",
                                   "LAST STATE", "LAST EXECUTOR"])
        for s in report.schedules {
            schedules.add([s.name, s.cron, s.timezone, "\(s.queue)/\(s.task)", s.enabled ? "yes" : "no",
                           isoString(s.nextFireAt), isoString(s.lastFireAt), s.lastTaskState?.rawValue ?? "-",
                           s.lastExecutor ?? "-"])
        }
        print(report.schedules.isEmpty ? "no schedules" : schedules.render())
    }
}
