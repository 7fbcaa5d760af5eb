import Foundation
import Rota

/// The monthly reports example: once a month a schedule fires `reports.fan_out`, which
/// enqueues one `reports.generate` task per tenant; each is a workflow that gathers the
/// tenant's order count and revenue for the month before the fire, renders the report and
/// stores its row of `rota_examples.reports` (``generate(tenantID:month:context:simulatedWorkMilliseconds:)``).
///
/// The fan-out keys each child `report:<tenant>:<month>`, so a retried fan-out (or a second
/// fire for the same month) finds the existing tasks instead of adding more. A report's
/// steps are checkpointed: a retry resumes after the last recorded one, and the store step
/// commits its row together with its checkpoint, once. The tables are in
/// `examples/monthly-reports/schema.sql`.
public struct MonthlyReports: Sendable {
    /// The queue of both tasks; its definition caps how many run at once across replicas.
    public static let queue = "reports"
    /// The task the schedule fires.
    public static let fanOutTask = "reports.fan_out"
    /// The per-tenant task.
    public static let generateTask = "reports.generate"

    /// The database with the `rota_examples` tables (the same one as Rota's here).
    public let client: RotaClient
    /// Tenants read per page while fanning out, so a large tenant table is never held at once.
    public var tenantPageSize: Int

    public init(client: RotaClient, tenantPageSize: Int = 1000) {
        self.client = client
        self.tenantPageSize = tenantPageSize
    }

    /// The idempotency key of the report of `tenantID` for `month`.
    public static func reportKey(tenantID: Int64, month: ReportMonth) -> String {
        "report:\(tenantID):\(month)"
    }

    /// Enqueues `reports.generate` for every tenant and each of the `months` months before
    /// `scheduledAt`, as children of the fan-out's parent task.
    /// - Parameter simulatedWorkMilliseconds: passed on to each report (demos only).
    public func fanOut(_ fanOut: FanOut, scheduledAt: Date, months: Int = 1,
                       simulatedWorkMilliseconds: Int? = nil) async throws -> FanOutSummary {
        guard (1...120).contains(months) else {
            throw RotaTaskError.nonRetryable("reports.fan_out: months must be 1...120, got \(months)")
        }
        let reportMonths = (0..<months).map { ReportMonth.reported(at: scheduledAt).adding(months: -$0) }
        var tenants = 0
        var taskCount = 0
        var lastTenant = Int64.min
        while true {
            // keyset pagination: stable and cheap however many tenants there are
            let page = try await client.query(
                "SELECT id FROM rota_examples.tenants WHERE id > $1::bigint ORDER BY id LIMIT $2::int",
                [lastTenant, tenantPageSize])
            let ids = try page.map { try $0.decode("id", as: Int64.self) }
            guard let last = ids.last else { break }
            let children = ids.flatMap { tenant in
                reportMonths.map { month in
                    FanOut.Child(key: Self.reportKey(tenantID: tenant, month: month),
                                 payload: GeneratePayload(tenantID: tenant, month: month,
                                                          simulatedWorkMilliseconds: simulatedWorkMilliseconds))
                }
            }
            // .global: the key names the work itself, so any fire asking for this report finds it
            taskCount += try await fanOut.enqueue(queue: Self.queue, task: Self.generateTask,
                                                  children: children, scope: .global).count
            tenants += ids.count
            lastTenant = last
            if ids.count < tenantPageSize { break }
        }
        return FanOutSummary(months: reportMonths, tenants: tenants, taskCount: taskCount)
    }

    /// The report of `tenantID` for `month` as a workflow of three steps: `gather` reads the
    /// month's orders (``gather(tenantID:month:)``), `render` turns them into the report's
    /// text (``render(_:)``) and `store` upserts the row in a transactional step
    /// (``store(_:summary:in:)``). An attempt after a crash returns the steps recorded before
    /// it instead of running them again: a report stored once is not stored again, and a
    /// resumed report renders and stores the totals its first attempt gathered.
    /// - Parameter simulatedWorkMilliseconds: the render step pretends to take this long (demos).
    public func generate(tenantID: Int64, month: ReportMonth, context: TaskContext,
                         simulatedWorkMilliseconds: Int? = nil) async throws -> Report {
        let totals = try await context.step("gather") { try await gather(tenantID: tenantID, month: month) }
        guard totals.tenantName != nil else {
            // deleted since it was fanned out: nothing to render or store
            return Report(totals: totals, summary: nil, changed: false)
        }
        let summary = try await context.step("render") { () -> String in
            if let pretend = simulatedWorkMilliseconds, pretend > 0 {
                try await Task.sleep(for: .milliseconds(pretend))
            }
            return Self.render(totals)
        }
        return try await context.transaction("store") { tx in try await Self.store(totals, summary: summary, in: tx) }
    }

    /// The tenant's order count and revenue for `month` (UTC), read from its orders.
    public func gather(tenantID: Int64, month: ReportMonth) async throws -> Totals {
        let row = try await client.query(
            """
            WITH bounds AS (
                SELECT ($2::date)::timestamp AT TIME ZONE 'UTC' AS month_start,
                       ($2::date + interval '1 month')::timestamp AT TIME ZONE 'UTC' AS month_end
            )
            SELECT count(o.id) AS order_count, coalesce(sum(o.amount), 0)::numeric(14, 2)::text AS revenue,
                   (SELECT name FROM rota_examples.tenants WHERE id = $1::bigint) AS tenant_name
            FROM bounds b
            LEFT JOIN rota_examples.orders o
                   ON o.tenant_id = $1::bigint AND o.created_at >= b.month_start AND o.created_at < b.month_end
            """,
            [tenantID, month.firstDay])[0]
        return Totals(tenantID: tenantID, month: month, tenantName: try row.decode("tenant_name", as: String?.self),
                      orderCount: try row.decode("order_count"), revenue: try row.decode("revenue"))
    }

    /// The report's text, e.g. `Acme (tenant 17), 2026-11: 23 orders, revenue 4711.20`.
    public static func render(_ totals: Totals) -> String {
        let orders = totals.orderCount == 1 ? "1 order" : "\(totals.orderCount) orders"
        return "\(totals.tenantName ?? "unknown") (tenant \(totals.tenantID)), \(totals.month): \(orders), revenue \(totals.revenue)"
    }

    /// Upserts the row `(tenant, month)` of `totals` inside `transaction` (the `store` step's),
    /// so the row and the step's checkpoint commit together. The row is rewritten only when
    /// the numbers changed, so a report stored again by a later task keeps its `computed_at`;
    /// a tenant deleted since `gather` gets no row.
    public static func store(_ totals: Totals, summary: String?, in transaction: RotaTransaction) async throws -> Report {
        let row = try await transaction.query(
            """
            WITH tenant AS (
                SELECT EXISTS (SELECT 1 FROM rota_examples.tenants WHERE id = $1::bigint) AS present
            ), upsert AS (
                INSERT INTO rota_examples.reports AS r (tenant_id, month, order_count, revenue, computed_at)
                SELECT $1::bigint, $2::date, $3::bigint, $4::numeric, now()
                FROM tenant
                WHERE tenant.present
                ON CONFLICT (tenant_id, month) DO UPDATE
                    SET order_count = EXCLUDED.order_count, revenue = EXCLUDED.revenue,
                        computed_at = EXCLUDED.computed_at
                    WHERE (r.order_count, r.revenue) IS DISTINCT FROM (EXCLUDED.order_count, EXCLUDED.revenue)
                RETURNING 1
            )
            SELECT tenant.present, (SELECT count(*) FROM upsert) > 0 AS changed FROM tenant
            """,
            [totals.tenantID, totals.month.firstDay, totals.orderCount, totals.revenue])[0]
        var report = Report(totals: totals, summary: summary, changed: try row.decode("changed"))
        report.tenantExists = try row.decode("present")
        return report
    }
}
