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

    /// Handlers of the examples, with a store no test here uses.
    func exampleHandlers(_ fixture: ExamplesFixture) throws -> (RotaHandlers, TemporaryFolder) {
        let folder = try TemporaryFolder()
        var handlers = RotaHandlers()
        RotaExamples.register(into: &handlers, client: fixture.client, store: try LocalDirectoryStore(root: folder.url))
        return (handlers, folder)
    }

    func generate(_ fixture: ExamplesFixture, tenant: Int64, month: ReportMonth) async throws -> RotaTaskRecord {
        try await fixture.run(queue: MonthlyReports.queue, task: MonthlyReports.generateTask,
                              payload: MonthlyReports.GeneratePayload(tenantID: tenant, month: month))
    }

    func testGenerateGathersRendersAndStoresTheMonthsOrdersAndIsIdempotent() async throws {
        let fixture = try await ExamplesFixture.make(for: self)
        try await fixture.addTenants(1...2)
        try await fixture.addOrder(tenant: 1, amount: "10.00", at: "2026-10-01T00:00:00Z")      // first instant: in
        try await fixture.addOrder(tenant: 1, amount: "20.50", at: "2026-10-31T23:59:59.999Z")  // last instant: in
        try await fixture.addOrder(tenant: 1, amount: "100.00", at: "2026-11-01T00:00:00Z")     // next month
        try await fixture.addOrder(tenant: 1, amount: "7.00", at: "2026-09-30T23:59:59Z")       // previous month
        try await fixture.addOrder(tenant: 1, amount: "1.25", at: "2026-10-01T01:30:00+02:00") // Sep 30 in UTC
        try await fixture.addOrder(tenant: 2, amount: "5.25", at: "2026-10-15T12:00:00Z")       // another tenant
        let october = ReportMonth(year: 2026, month: 10)
        let (handlers, folder) = try exampleHandlers(fixture)
        defer { folder.remove() }
        try await withExamplesWorker(url: fixture.url, handlers: handlers) {
            let firstTask = try await generate(fixture, tenant: 1, month: october)
            let first = try fixture.result(of: firstTask, as: MonthlyReports.Report.self)
            XCTAssertEqual(first.orderCount, 2)
            XCTAssertEqual(first.revenue, "30.50")
            XCTAssertEqual(first.summary, "Tenant 1 (tenant 1), 2026-10: 2 orders, revenue 30.50")
            XCTAssertTrue(first.changed)
            XCTAssertTrue(first.tenantExists)
            XCTAssertEqual(firstTask.steps.map(\.name), ["gather", "render", "store"])
            let stored = try await fixture.client.query(
                "SELECT order_count, revenue::text AS revenue, computed_at::text AS computed_at FROM rota_examples.reports WHERE tenant_id = 1 AND month = '2026-10-01'")
            XCTAssertEqual(stored.count, 1)
            XCTAssertEqual(try stored[0].decode("order_count", as: Int64.self), 2)
            XCTAssertEqual(try stored[0].decode("revenue", as: String.self), "30.50")

            // The same report again (another task for it): the same row, not rewritten.
            let second = try fixture.result(of: try await generate(fixture, tenant: 1, month: october),
                                            as: MonthlyReports.Report.self)
            XCTAssertEqual(second.orderCount, 2)
            XCTAssertEqual(second.revenue, "30.50")
            XCTAssertFalse(second.changed)
            let again = try await fixture.client.query(
                "SELECT order_count, revenue::text AS revenue, computed_at::text AS computed_at FROM rota_examples.reports WHERE tenant_id = 1")
            XCTAssertEqual(again.count, 1)
            XCTAssertEqual(try again[0].decode("computed_at", as: String.self), try stored[0].decode("computed_at", as: String.self),
                           "an unchanged report is not rewritten")

            // A late order changes the numbers: the next report updates the row.
            try await fixture.addOrder(tenant: 1, amount: "0.50", at: "2026-10-20T00:00:00Z")
            let third = try fixture.result(of: try await generate(fixture, tenant: 1, month: october),
                                           as: MonthlyReports.Report.self)
            XCTAssertEqual(third.orderCount, 3)
            XCTAssertEqual(third.revenue, "31.00")
            XCTAssertTrue(third.changed)
        }
    }

    func testAMonthWithoutOrdersAndAVanishedTenant() async throws {
        let fixture = try await ExamplesFixture.make(for: self)
        try await fixture.addTenants(1...1)
        let (handlers, folder) = try exampleHandlers(fixture)
        defer { folder.remove() }
        try await withExamplesWorker(url: fixture.url, handlers: handlers) {
            let empty = try fixture.result(of: try await generate(fixture, tenant: 1, month: ReportMonth(year: 2026, month: 10)),
                                           as: MonthlyReports.Report.self)
            XCTAssertEqual(empty.orderCount, 0)
            XCTAssertEqual(empty.revenue, "0.00")
            XCTAssertEqual(empty.summary, "Tenant 1 (tenant 1), 2026-10: 0 orders, revenue 0.00")
            let goneTask = try await generate(fixture, tenant: 42, month: ReportMonth(year: 2026, month: 10))
            let gone = try fixture.result(of: goneTask, as: MonthlyReports.Report.self)
            XCTAssertFalse(gone.tenantExists)
            XCTAssertNil(gone.summary)
            XCTAssertEqual(goneTask.steps.map(\.name), ["gather"], "nothing to render or store")
        }
        let rows = try await fixture.count("SELECT count(*) FROM rota_examples.reports")
        XCTAssertEqual(rows, 1)
    }

    func testAReportThatCrashedWhileStoringResumesWithTheTotalsItGatheredAndStoresThemOnce() async throws {
        let fixture = try await ExamplesFixture.make(for: self)
        try await fixture.addTenants(1...1)
        try await fixture.addOrder(tenant: 1, amount: "10.00", at: "2026-10-05T00:00:00Z")
        try await fixture.addOrder(tenant: 1, amount: "2.50", at: "2026-10-06T00:00:00Z")
        // Every store fails until the trigger is dropped: the attempts crash after gather and render.
        try await fixture.client.query("""
            CREATE FUNCTION public.refuse_report() RETURNS trigger LANGUAGE plpgsql
            AS $$ BEGIN RAISE EXCEPTION 'simulated crash while storing'; END $$
            """)
        try await fixture.client.query("""
            CREATE TRIGGER refuse_report BEFORE INSERT OR UPDATE ON rota_examples.reports
            FOR EACH ROW EXECUTE FUNCTION public.refuse_report()
            """)
        let (handlers, folder) = try exampleHandlers(fixture)
        defer { folder.remove() }
        try await withExamplesWorker(url: fixture.url, handlers: handlers) {
            let id = try await fixture.client.enqueue(
                queue: MonthlyReports.queue, task: MonthlyReports.generateTask,
                payload: MonthlyReports.GeneratePayload(tenantID: 1, month: ReportMonth(year: 2026, month: 10)))
            try await waitUntil("an attempt crashed in the store step") {
                try await fixture.client.task(id: id)?.lastError?.contains("simulated crash while storing") == true
            }
            // A late order arrives as the crash is fixed, in one transaction: an attempt that
            // stores the report runs after both, so it would count the order if it gathered again.
            try await fixture.client.query("""
                DO $$ BEGIN
                    INSERT INTO rota_examples.orders (tenant_id, amount, created_at) VALUES (1, 100.00, '2026-10-20T00:00:00Z');
                    DROP TRIGGER refuse_report ON rota_examples.reports;
                END $$
                """)
            try await waitUntil("the report succeeded") { try await fixture.client.task(id: id)?.state == .succeeded }
            let found = try await fixture.client.task(id: id)
            let task = try XCTUnwrap(found)
            let report = try fixture.result(of: task, as: MonthlyReports.Report.self)
            XCTAssertEqual(report.orderCount, 2, "the totals the first attempt gathered: gather did not run again")
            XCTAssertEqual(report.revenue, "12.50")
            XCTAssertEqual(task.steps.map(\.name), ["gather", "render", "store"])
            XCTAssertEqual(task.steps.map(\.attempt).prefix(2), [1, 1], "gather and render were recorded by the first attempt")
            XCTAssertGreaterThan(task.steps[2].attempt, 1, "store by the attempt that ran after the fix")
            XCTAssertEqual(task.steps[2].attempt, task.attemptCount, "and only by it: a failed store recorded nothing")
            let rows = try await fixture.client.query(
                "SELECT order_count, revenue::text AS revenue FROM rota_examples.reports WHERE tenant_id = 1")
            XCTAssertEqual(rows.count, 1)
            XCTAssertEqual(try rows[0].decode("order_count", as: Int64.self), 2)
            XCTAssertEqual(try rows[0].decode("revenue", as: String.self), "12.50")
        }
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
