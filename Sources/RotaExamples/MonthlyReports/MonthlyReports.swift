import Foundation
import Rota

/// The monthly reports example: once a month a schedule fires `reports.fan_out`, which
/// enqueues one `reports.generate` task per tenant; each computes the tenant's order count
/// and revenue for the month before the fire and upserts its row of `rota_examples.reports`.
///
/// Both steps are safe to repeat. The fan-out keys each child `report:<tenant>:<month>`, so
/// a retried fan-out (or a second fire for the same month) finds the existing tasks instead
/// of adding more. A report is recomputed from the orders and written with an upsert, so
/// running it twice leaves the same row. The tables are in `examples/monthly-reports/schema.sql`.
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

    /// Computes the report of `tenantID` for `month` from its orders and stores it.
    ///
    /// One statement: the totals, the upsert and the answer see the same snapshot. The row is
    /// rewritten only when the numbers changed, so a repeated run keeps its `computed_at`.
    public func generate(tenantID: Int64, month: ReportMonth) async throws -> Report {
        let rows = try await client.query(
            """
            WITH bounds AS (
                SELECT ($2::date)::timestamp AT TIME ZONE 'UTC' AS month_start,
                       ($2::date + interval '1 month')::timestamp AT TIME ZONE 'UTC' AS month_end
            ), totals AS (
                SELECT count(o.id) AS order_count, coalesce(sum(o.amount), 0)::numeric(14, 2) AS revenue
                FROM bounds b
                LEFT JOIN rota_examples.orders o
                       ON o.tenant_id = $1::bigint AND o.created_at >= b.month_start AND o.created_at < b.month_end
            ), tenant AS (
                SELECT EXISTS (SELECT 1 FROM rota_examples.tenants WHERE id = $1::bigint) AS present
            ), upsert AS (
                INSERT INTO rota_examples.reports AS r (tenant_id, month, order_count, revenue, computed_at)
                SELECT $1::bigint, $2::date, t.order_count, t.revenue, now()
                FROM totals t, tenant
                WHERE tenant.present
                ON CONFLICT (tenant_id, month) DO UPDATE
                    SET order_count = EXCLUDED.order_count, revenue = EXCLUDED.revenue,
                        computed_at = EXCLUDED.computed_at
                    WHERE (r.order_count, r.revenue) IS DISTINCT FROM (EXCLUDED.order_count, EXCLUDED.revenue)
                RETURNING 1
            )
            SELECT t.order_count, t.revenue::text AS revenue, tenant.present,
                   (SELECT count(*) FROM upsert) > 0 AS changed
            FROM totals t, tenant
            """,
            [tenantID, month.firstDay])
        let row = rows[0]
        return Report(tenantID: tenantID, month: month,
                      orderCount: try row.decode("order_count"), revenue: try row.decode("revenue"),
                      changed: try row.decode("changed"), tenantExists: try row.decode("present"))
    }
}
