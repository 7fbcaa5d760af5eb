import Foundation
import Rota
import RotaTestSupport
import RotaExamples
import XCTest

final class MonthlyReportsTests: XCTestCase {
    func testTheReportedMonthIsTheMonthBeforeTheFire() {
        XCTAssertEqual(ReportMonth.reported(at: instant("2026-11-01T03:00:00Z")).description, "2026-10")
        XCTAssertEqual(ReportMonth.reported(at: instant("2027-01-01T03:00:00Z")).description, "2026-12")
        // 00:30 on Dec 1st at UTC+2 is still November 30th in UTC: the report is for October.
        XCTAssertEqual(ReportMonth.reported(at: instant("2026-12-01T00:30:00+02:00")).description, "2026-10")
        XCTAssertEqual(ReportMonth(year: 2026, month: 1).adding(months: -13).description, "2024-12")
        XCTAssertEqual(ReportMonth(year: 2026, month: 12).adding(months: 1).description, "2027-01")
        XCTAssertEqual(ReportMonth("2026-10"), ReportMonth(year: 2026, month: 10))
        XCTAssertNil(ReportMonth("2026-13"))
        XCTAssertEqual(ReportMonth(year: 2026, month: 3).firstDay, "2026-03-01")
    }

    func testGenerateComputesTheMonthsOrdersAndIsIdempotent() async throws {
        let fixture = try await ExamplesFixture.make(for: self)
        try await fixture.addTenants(1...2)
        try await fixture.addOrder(tenant: 1, amount: "10.00", at: "2026-10-01T00:00:00Z")      // first instant: in
        try await fixture.addOrder(tenant: 1, amount: "20.50", at: "2026-10-31T23:59:59.999Z")  // last instant: in
        try await fixture.addOrder(tenant: 1, amount: "100.00", at: "2026-11-01T00:00:00Z")     // next month
        try await fixture.addOrder(tenant: 1, amount: "7.00", at: "2026-09-30T23:59:59Z")       // previous month
        try await fixture.addOrder(tenant: 1, amount: "1.25", at: "2026-10-01T01:30:00+02:00") // Sep 30 in UTC
        try await fixture.addOrder(tenant: 2, amount: "5.25", at: "2026-10-15T12:00:00Z")       // another tenant
        let reports = MonthlyReports(client: fixture.client)
        let october = ReportMonth(year: 2026, month: 10)

        let first = try await reports.generate(tenantID: 1, month: october)
        XCTAssertEqual(first.orderCount, 2)
        XCTAssertEqual(first.revenue, "30.50")
        XCTAssertTrue(first.changed)
        XCTAssertTrue(first.tenantExists)
        let stored = try await fixture.client.query(
            "SELECT order_count, revenue::text AS revenue, computed_at::text AS computed_at FROM rota_examples.reports WHERE tenant_id = 1 AND month = '2026-10-01'")
        XCTAssertEqual(stored.count, 1)
        XCTAssertEqual(try stored[0].decode("order_count", as: Int64.self), 2)
        XCTAssertEqual(try stored[0].decode("revenue", as: String.self), "30.50")

        // Run it again (a retry, or a second replica after a lost lease): the same row.
        let second = try await reports.generate(tenantID: 1, month: october)
        XCTAssertEqual(second.orderCount, 2)
        XCTAssertEqual(second.revenue, "30.50")
        XCTAssertFalse(second.changed)
        let again = try await fixture.client.query(
            "SELECT order_count, revenue::text AS revenue, computed_at::text AS computed_at FROM rota_examples.reports WHERE tenant_id = 1")
        XCTAssertEqual(again.count, 1)
        XCTAssertEqual(try again[0].decode("computed_at", as: String.self), try stored[0].decode("computed_at", as: String.self),
                       "an unchanged report is not rewritten")

        // A late order changes the numbers: the next run updates the row.
        try await fixture.addOrder(tenant: 1, amount: "0.50", at: "2026-10-20T00:00:00Z")
        let third = try await reports.generate(tenantID: 1, month: october)
        XCTAssertEqual(third.orderCount, 3)
        XCTAssertEqual(third.revenue, "31.00")
        XCTAssertTrue(third.changed)
    }

    func testAMonthWithoutOrdersAndAVanishedTenant() async throws {
        let fixture = try await ExamplesFixture.make(for: self)
        try await fixture.addTenants(1...1)
        let reports = MonthlyReports(client: fixture.client)
        let empty = try await reports.generate(tenantID: 1, month: ReportMonth(year: 2026, month: 10))
        XCTAssertEqual(empty.orderCount, 0)
        XCTAssertEqual(empty.revenue, "0.00")
        let gone = try await reports.generate(tenantID: 42, month: ReportMonth(year: 2026, month: 10))
        XCTAssertFalse(gone.tenantExists)
        let rows = try await fixture.count("SELECT count(*) FROM rota_examples.reports")
        XCTAssertEqual(rows, 1)
    }

    func testFanOutEnqueuesOneTaskPerTenantAndARetriedFanOutCreatesNoDuplicates() async throws {
        let fixture = try await ExamplesFixture.make(for: self)
        try await fixture.addTenants(1...2345)
        let fireAt = "2026-11-01T03:00:00Z"
        let parent = try await fixture.enqueueFire(queue: MonthlyReports.queue, task: MonthlyReports.fanOutTask,
                                                   schedule: "monthly-reports", at: fireAt)
        let fanOut = FanOut(client: fixture.client, parentID: parent, parentKey: "schedule:monthly-reports:\(fireAt)")
        let reports = MonthlyReports(client: fixture.client, tenantPageSize: 1000)

        // The first attempt got through the first 700 tenants before it crashed.
        let partial = (1...700).map { tenant in
            FanOut.Child(key: MonthlyReports.reportKey(tenantID: Int64(tenant), month: ReportMonth(year: 2026, month: 10)),
                         payload: MonthlyReports.GeneratePayload(tenantID: Int64(tenant), month: ReportMonth(year: 2026, month: 10)))
        }
        try await fanOut.enqueue(queue: MonthlyReports.queue, task: MonthlyReports.generateTask, children: partial, scope: .global)

        let summary = try await reports.fanOut(fanOut, scheduledAt: instant(fireAt))
        XCTAssertEqual(summary.months.map(\.description), ["2026-10"])
        XCTAssertEqual(summary.tenants, 2345)
        XCTAssertEqual(summary.taskCount, 2345)

        let check = try await fixture.client.query(
            """
            SELECT count(*) AS tasks, count(DISTINCT key) AS keys,
                   count(*) FILTER (WHERE parent_id = $1::bigint) AS with_parent,
                   count(*) FILTER (WHERE key = 'report:' || (payload->>'tenant_id') || ':2026-10'
                                      AND payload->>'month' = '2026-10') AS well_formed,
                   count(DISTINCT (payload->>'tenant_id')::bigint) AS tenants
            FROM rota.tasks WHERE task = 'reports.generate' AND queue = 'reports'
            """, [parent])
        XCTAssertEqual(try check[0].decode("tasks", as: Int.self), 2345)
        XCTAssertEqual(try check[0].decode("keys", as: Int.self), 2345)
        XCTAssertEqual(try check[0].decode("with_parent", as: Int.self), 2345)
        XCTAssertEqual(try check[0].decode("well_formed", as: Int.self), 2345)
        XCTAssertEqual(try check[0].decode("tenants", as: Int.self), 2345)

        // Running the fan-out again (a retry), or another fire for the same month, adds nothing.
        _ = try await reports.fanOut(fanOut, scheduledAt: instant(fireAt))
        let manual = FanOut(client: fixture.client, parentID: parent, parentKey: "schedule:monthly-reports:2026-11-20T10:00:00.123Z")
        _ = try await reports.fanOut(manual, scheduledAt: instant("2026-11-20T10:00:00.123Z"))
        let total = try await fixture.count("SELECT count(*) FROM rota.tasks WHERE task = 'reports.generate'")
        XCTAssertEqual(total, 2345)
    }

    func testFanOutOverSeveralMonths() async throws {
        let fixture = try await ExamplesFixture.make(for: self)
        try await fixture.addTenants(1...5)
        let parent = try await fixture.enqueueFire(queue: MonthlyReports.queue, task: MonthlyReports.fanOutTask,
                                                   schedule: "monthly-reports", at: "2026-01-01T03:00:00Z")
        let fanOut = FanOut(client: fixture.client, parentID: parent, parentKey: "schedule:monthly-reports:2026-01-01T03:00:00Z")
        let summary = try await MonthlyReports(client: fixture.client)
            .fanOut(fanOut, scheduledAt: instant("2026-01-01T03:00:00Z"), months: 3)
        XCTAssertEqual(summary.months.map(\.description), ["2025-12", "2025-11", "2025-10"])
        XCTAssertEqual(summary.taskCount, 15)
        let keys = try await fixture.client.query(
            "SELECT key FROM rota.tasks WHERE task = 'reports.generate' ORDER BY key").map { try $0.decode("key", as: String.self) }
        XCTAssertEqual(keys.count, 15)
        XCTAssertTrue(keys.contains("report:3:2025-11"))
    }
}
