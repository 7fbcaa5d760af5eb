import Foundation
import Rota

/// The dashboard's pages, rendered from the database on each request. Read-only: every
/// call here only reads.
struct DashboardPages: Sendable {
    let client: RotaClient
    let refreshSeconds: Int

    static let navigation = [("/", "Overview"), ("/queues", "Queues"), ("/schedules", "Schedules"),
                             ("/failures", "Failures"), ("/executors", "Executors")]

    /// A whole page: navigation, the active alerts on top, then `body`.
    func page(_ title: String, path: String, _ body: HTML) async throws -> String {
        let alerts = try await client.alerts()
        let nav = Self.navigation.map { target, name in
            target == path ? HTML(markup: "<a class=\"active\" href=\"\(target)\">\(name)</a>") : HTML.link(target, name)
        }
        let alertBlock: HTML
        if alerts.isEmpty {
            alertBlock = HTML(markup: "<section class=\"alerts ok\"><p>No active alerts.</p></section>")
        } else {
            let items = alerts.map { alert in
                HTML(markup: "<li><strong>") + HTML(text: alert.alert) + HTML(markup: "</strong> ")
                    + HTML(text: alert.message) + HTML(markup: "</li>")
            }
            alertBlock = HTML(markup: "<section class=\"alerts\"><h2>Active alerts (\(alerts.count))</h2><ul>")
                + HTML.joined(items) + HTML(markup: "</ul></section>")
        }
        let head = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta http-equiv="refresh" content="\(refreshSeconds)">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Rota · \(HTML.escape(title))</title>
            <link rel="stylesheet" href="/assets/style.css"></head>
            <body><header><span class="brand">Rota</span><nav>
            """
        return head + HTML.joined(nav).description + "</nav><span class=\"refreshed\">"
            + HTML.escape("read \(Display.date(Date())) · refreshes every \(refreshSeconds) s")
            + "</span></header><main>\n" + alertBlock.description
            + "<h1>\(HTML.escape(title))</h1>\n" + body.description + "\n</main></body></html>\n"
    }

    func overview() async throws -> String {
        let queues = try await client.queueOverview()
        let executors = try await client.executorStatus()
        let schedules = try await client.scheduleStatus()
        let alive = executors.filter(\.alive).count
        let summary = HTML.table(
            ["Queues", "Ready", "Running", "Succeeded (last hour)", "Failed attempts (last hour)",
             "Executors alive", "Schedules enabled"],
            [[HTML(text: "\(queues.count)"), HTML(text: "\(queues.map(\.ready).reduce(0, +))"),
              HTML(text: "\(queues.map(\.running).reduce(0, +))"),
              HTML(text: "\(queues.map(\.succeededLastHour).reduce(0, +))"),
              HTML(text: "\(queues.map(\.attemptsFailedLastHour).reduce(0, +))"),
              HTML(text: "\(alive) of \(executors.filter { !$0.stopped }.count)"),
              HTML(text: "\(schedules.filter(\.enabled).count) of \(schedules.count)")]],
            empty: "")
        return try await page("Overview", path: "/", summary + (try await queueTable(queues)))
    }

    func queues() async throws -> String {
        try await page("Queues", path: "/queues", try await queueTable(try await client.queueOverview()))
    }

    private func queueTable(_ queues: [RotaQueueOverview]) async throws -> HTML {
        let activity = try await client.queueActivity()
        let now = Date()
        let rows = queues.map { q -> [HTML] in
            let mine = activity.filter { $0.queue == q.queue }
            let done = Sparkline.lastHour(mine.map { ($0.minute, $0.succeeded) }, now: now)
            let failed = Sparkline.lastHour(mine.map { ($0.minute, $0.attemptsFailed) }, now: now)
            return [HTML.link("/failures?queue=\(HTML.queryValue(q.queue))", q.queue),
                    HTML(text: "\(q.ready)"), HTML(text: "\(q.delayed)"),
                    HTML(text: q.concurrency.map { "\(q.running) / \($0)" } ?? "\(q.running)"),
                    HTML(text: Display.seconds(q.oldestReadyAgeSeconds)),
                    HTML(text: "\(q.succeededTotal)"), HTML(text: "\(q.failedTotal)"),
                    Sparkline.svg(done, cssClass: "ok", label: "succeeded"),
                    Sparkline.svg(failed, cssClass: "bad", label: "failed attempts"),
                    HTML(text: q.paused ? "paused" : "")]
        }
        return HTML.table(["Queue", "Ready", "Delayed", "Running / limit", "Oldest ready", "Succeeded", "Failed",
                           "Throughput, last hour", "Failures, last hour", ""], rows, empty: "No queues.")
    }

    func schedules() async throws -> String {
        var sections: [HTML] = []
        let schedules = try await client.scheduleStatus()
        let summary = HTML.table(
            ["Schedule", "When", "Cron", "Queue / task", "Enabled", "Next fire", "Last state"],
            schedules.map { s in
                [HTML(text: s.name), HTML(text: CronDescription.describe(s.cron, timezone: s.timezone)),
                 HTML(markup: "<code>") + HTML(text: s.cron) + HTML(markup: "</code>"),
                 HTML(text: "\(s.queue) / \(s.task)"), HTML(text: s.enabled ? "yes" : "no"),
                 HTML(text: Display.date(s.nextFireAt)), HTML(text: s.lastTaskState?.rawValue ?? "-")]
            }, empty: "No schedules.")
        sections.append(summary)
        for schedule in schedules {
            let fires = try await client.scheduleFires(schedule: schedule.name, limit: 10)
            sections.append(HTML(markup: "<h2>Recent fires of ") + HTML(text: schedule.name) + HTML(markup: "</h2>"))
            sections.append(HTML.table(
                ["Scheduled", "Started", "Finished", "Duration", "Executor", "State", "Task"],
                fires.map { f in
                    [HTML(text: Display.date(f.fireAt) + (f.manual ? " (manual)" : "")), HTML(text: Display.date(f.startedAt)),
                     HTML(text: Display.date(f.finishedAt)), HTML(text: Display.duration(from: f.startedAt, to: f.finishedAt)),
                     HTML(text: f.executor ?? "-"), HTML(text: f.state?.rawValue ?? "-"),
                     f.taskID.map { HTML.link("/tasks/\($0)", "#\($0)") } ?? HTML(text: "-")]
                }, empty: "No fires yet."))
        }
        return try await page("Schedules", path: "/schedules", HTML.joined(sections))
    }

    func failures(queue: String?, task: String?, executor: String?) async throws -> String {
        let failures = try await client.failures(queue: queue, task: task, executor: executor, limit: 200)
        func field(_ name: String, _ value: String?) -> String {
            "<label>\(name) <input name=\"\(name)\" value=\"\(HTML.escape(value ?? ""))\"></label>"
        }
        let form = HTML(markup: "<form class=\"filter\" method=\"get\" action=\"/failures\">"
                        + field("queue", queue) + field("task", task) + field("executor", executor)
                        + "<button type=\"submit\">Filter</button> <a href=\"/failures\">clear</a></form>")
        let rows = failures.map { f -> [HTML] in
            [HTML.link("/tasks/\(f.taskID)", "#\(f.taskID)"), HTML(text: f.queue), HTML(text: f.task),
             HTML(text: "\(f.attempt)" + (f.final ? " (final)" : "")),
             HTML(text: f.executor ?? "-"), HTML(text: f.outcome),
             HTML(markup: "<span class=\"error\">") + HTML(text: String((f.error ?? "").prefix(300)))
                + HTML(markup: "</span>"),
             HTML(text: Display.date(f.failedAt))]
        }
        let table = HTML.table(["Task", "Queue", "Task name", "Attempt", "Executor", "Outcome", "Error", "Failed at"],
                               rows, empty: "No failed attempts.")
        return try await page("Failures", path: "/failures", form + table)
    }

    func executors() async throws -> String {
        let executors = try await client.executorStatus()
        let rows = executors.map { e -> [HTML] in
            [HTML.link("/failures?executor=\(HTML.queryValue(e.executor))", e.executor),
             HTML(text: e.host ?? "-"), HTML(text: e.pid.map(String.init) ?? "-"),
             HTML(markup: e.alive ? "<span class=\"alive\">alive</span>"
                                  : (e.stopped ? "stopped" : "<span class=\"dead\">dead</span>")),
             HTML(text: "\(e.running)"), HTML(text: Display.date(e.lastHeartbeatAt)),
             HTML(text: e.queues.joined(separator: ", ")), HTML(text: Display.date(e.startedAt))]
        }
        return try await page("Executors", path: "/executors", HTML.table(
            ["Executor", "Host", "PID", "State", "Held tasks", "Last heartbeat", "Queues", "Started"],
            rows, empty: "No executors."))
    }

    /// A task with its payload, attempts and steps; nil when there is no such task.
    func task(id: Int64) async throws -> String? {
        guard let task = try await client.task(id: id) else { return nil }
        let steps = try await client.steps(taskID: id)
        func row(_ name: String, _ value: String?) -> [HTML] { [HTML(text: name), HTML(text: value ?? "-")] }
        let facts = HTML.table(["Field", "Value"], [
            row("Queue", task.queue), row("Task", task.task), row("State", task.state.rawValue),
            row("Key", task.key), row("Attempts", "\(task.attemptCount) of \(task.maxAttempts)"),
            row("Priority", "\(task.priority)"), row("Enqueued", Display.date(task.enqueuedAt)),
            row("Run at", Display.date(task.runAt)), row("Started", Display.date(task.startedAt)),
            row("Finished", Display.date(task.finishedAt)), row("Executor", task.executor),
            row("Concurrency key", task.concurrencyKey), row("Parent", task.parentID.map { "#\($0)" }),
        ], empty: "")
        func pre(_ title: String, _ text: String?) -> HTML {
            HTML(markup: "<h2>\(title)</h2><pre>") + HTML(text: text ?? "-") + HTML(markup: "</pre>")
        }
        let attempts = HTML(markup: "<h2>Attempts that did not succeed</h2>") + HTML.table(
            ["Attempt", "Executor", "Outcome", "Started", "Finished", "Error"],
            task.attempts.map { a in
                [HTML(text: "\(a.attempt)"), HTML(text: a.executor ?? "-"), HTML(text: a.outcome),
                 HTML(text: Display.date(a.startedAt)), HTML(text: Display.date(a.finishedAt)),
                 HTML(markup: "<span class=\"error\">") + HTML(text: a.error ?? "") + HTML(markup: "</span>")]
            }, empty: "None.")
        let stepTable = HTML(markup: "<h2>Steps</h2>") + HTML.table(
            ["Step", "Attempt", "Recorded", "Output"],
            steps.map { s in
                [HTML(text: s.name), HTML(text: "\(s.attempt)"), HTML(text: Display.date(s.recordedAt)),
                 HTML(markup: "<code>") + HTML(text: String(s.output.prefix(500))) + HTML(markup: "</code>")]
            }, empty: "No steps recorded.")
        let body = facts + pre("Payload", prettyJSON(task.payload)) + pre("Result", task.result.map(prettyJSON))
            + pre("Last error", task.lastError) + attempts + stepTable
        return try await page("Task #\(id)", path: "/tasks", body)
    }

    private func prettyJSON(_ text: String) -> String {
        guard let data = text.data(using: .utf8),
              let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]),
              let pretty = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes])
        else { return text }
        return String(decoding: pretty, as: UTF8.self)
    }
}
