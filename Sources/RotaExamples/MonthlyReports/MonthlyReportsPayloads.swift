extension MonthlyReports {
    /// The payload of `reports.fan_out`: the schedule's payload plus what each fire adds.
    public struct FanOutPayload: Sendable, Hashable, Codable {
        /// Added by the fire: the schedule's name.
        public var schedule: String?
        /// Added by the fire: its instant in ISO 8601 UTC; the reported month is the one before it.
        public var scheduledAt: String?
        /// How many months back to report, from the month before the fire (default 1).
        public var months: Int?
        /// For demos: each report pretends to work this long first, so the queue's
        /// concurrency cap and the spread over replicas become visible.
        public var simulatedWorkMilliseconds: Int?

        public init(schedule: String? = nil, scheduledAt: String? = nil, months: Int? = nil,
                    simulatedWorkMilliseconds: Int? = nil) {
            self.schedule = schedule
            self.scheduledAt = scheduledAt
            self.months = months
            self.simulatedWorkMilliseconds = simulatedWorkMilliseconds
        }

        enum CodingKeys: String, CodingKey {
            case schedule, months
            case scheduledAt = "scheduled_at", simulatedWorkMilliseconds = "simulate_work_ms"
        }
    }

    /// The result of `reports.fan_out`.
    public struct FanOutSummary: Sendable, Hashable, Codable {
        /// The months whose reports were asked for, newest first.
        public var months: [ReportMonth]
        public var tenants: Int
        /// Ids of the `reports.generate` tasks (existing ones included).
        public var taskCount: Int

        enum CodingKeys: String, CodingKey {
            case months, tenants
            case taskCount = "task_count"
        }
    }

    /// The payload of `reports.generate`.
    public struct GeneratePayload: Sendable, Hashable, Codable {
        public var tenantID: Int64
        public var month: ReportMonth
        /// See ``FanOutPayload/simulatedWorkMilliseconds``.
        public var simulatedWorkMilliseconds: Int?

        public init(tenantID: Int64, month: ReportMonth, simulatedWorkMilliseconds: Int? = nil) {
            self.tenantID = tenantID
            self.month = month
            self.simulatedWorkMilliseconds = simulatedWorkMilliseconds
        }

        enum CodingKeys: String, CodingKey {
            case month
            case tenantID = "tenant_id", simulatedWorkMilliseconds = "simulate_work_ms"
        }
    }

    /// A tenant's orders in a month: the output of the `gather` step of `reports.generate`.
    public struct Totals: Sendable, Hashable, Codable {
        public var tenantID: Int64
        public var month: ReportMonth
        /// Nil when the tenant no longer exists.
        public var tenantName: String?
        public var orderCount: Int64
        /// The sum of the month's order amounts, exactly as the database's numeric text.
        public var revenue: String

        public init(tenantID: Int64, month: ReportMonth, tenantName: String?, orderCount: Int64, revenue: String) {
            self.tenantID = tenantID
            self.month = month
            self.tenantName = tenantName
            self.orderCount = orderCount
            self.revenue = revenue
        }

        enum CodingKeys: String, CodingKey {
            case month, revenue
            case tenantID = "tenant_id", tenantName = "tenant_name", orderCount = "order_count"
        }
    }

    /// A tenant's report for a month (the result of `reports.generate`).
    public struct Report: Sendable, Hashable, Codable {
        public var tenantID: Int64
        public var month: ReportMonth
        public var orderCount: Int64
        /// The sum of the month's order amounts, exactly as the database's numeric text.
        public var revenue: String
        /// The rendered report (``MonthlyReports/render(_:)``); nil when the tenant no longer exists.
        public var summary: String?
        /// False when the stored row already had these numbers (a report stored again).
        public var changed: Bool
        /// False when the tenant no longer exists: nothing was stored.
        public var tenantExists: Bool

        init(totals: Totals, summary: String?, changed: Bool) {
            tenantID = totals.tenantID
            month = totals.month
            orderCount = totals.orderCount
            revenue = totals.revenue
            self.summary = summary
            self.changed = changed
            tenantExists = totals.tenantName != nil
        }

        enum CodingKeys: String, CodingKey {
            case month, revenue, summary, changed
            case tenantID = "tenant_id", orderCount = "order_count", tenantExists = "tenant_exists"
        }
    }
}
