import Foundation
import Rota
import RotaTestSupport
import RotaExamples
import XCTest

/// Both examples through a real worker: the schedules fire (manually, with
/// rota.trigger_schedule), the fan-outs enqueue their children and the children do the work.
final class EndToEndTests: XCTestCase {
    func testSchedulesFanOutAndTheChildrenDoTheWork() async throws {
        let fixture = try await ExamplesFixture.make(for: self)
        try await fixture.addTenants(1...5)
        // two orders per tenant last month (UTC) and one this month
        try await fixture.client.query(
            """
            INSERT INTO rota_examples.orders (tenant_id, amount, created_at)
            SELECT t.id, a.amount, (date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') + a.offset_
            FROM rota_examples.tenants t,
                 (VALUES (10.00::numeric, interval '-10 days'), (2.50, interval '-20 days'), (99.00, interval '1 second')) AS a(amount, offset_)
            """)
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let now = Date()
        for bucket in ["uploads", "exports"] {
            try folder.write("tmp/\(bucket)/old.bin", modifiedAt: now.addingTimeInterval(-3 * 3600))
            try folder.write("tmp/\(bucket)/new.bin", modifiedAt: now.addingTimeInterval(-300))
        }
        try folder.write("keep/old.bin", modifiedAt: now.addingTimeInterval(-3 * 3600))

        var handlers = RotaHandlers()
        RotaExamples.register(into: &handlers, client: fixture.client, store: try LocalDirectoryStore(root: folder.url))
        XCTAssertEqual(handlers.taskNames, ["cleanup.prefix", "cleanup.scan", "reports.fan_out", "reports.generate"])

        try await withExamplesWorker(url: fixture.url, handlers: handlers) {
            try await fixture.client.query("SELECT rota.trigger_schedule('monthly-reports')")
            try await fixture.client.query("SELECT rota.trigger_schedule('storage-cleanup')")
            try await waitUntil("every task finished") {
                let open = try await fixture.count("SELECT count(*) FROM rota.tasks WHERE state NOT IN ('succeeded', 'failed', 'cancelled')")
                let all = try await fixture.count("SELECT count(*) FROM rota.tasks")
                return open == 0 && all == 1 + 5 + 1 + 2
            }
        }

        let failed = try await fixture.count("SELECT count(*) FROM rota.tasks WHERE state <> 'succeeded'")
        XCTAssertEqual(failed, 0)
        let reports = try await fixture.client.query(
            """
            SELECT count(*) AS rows, min(order_count) AS min_count, max(order_count) AS max_count,
                   min(revenue)::text AS revenue, min(month)::text AS month,
                   (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 month')::date::text AS expected_month
            FROM rota_examples.reports
            """)
        XCTAssertEqual(try reports[0].decode("rows", as: Int.self), 5)
        XCTAssertEqual(try reports[0].decode("min_count", as: Int.self), 2)
        XCTAssertEqual(try reports[0].decode("max_count", as: Int.self), 2)
        XCTAssertEqual(try reports[0].decode("revenue", as: String.self), "12.50")
        XCTAssertEqual(try reports[0].decode("month", as: String.self), try reports[0].decode("expected_month", as: String.self))

        XCTAssertFalse(folder.exists("tmp/uploads/old.bin"))
        XCTAssertFalse(folder.exists("tmp/exports/old.bin"))
        XCTAssertTrue(folder.exists("tmp/uploads/new.bin"))
        XCTAssertTrue(folder.exists("tmp/exports/new.bin"))
        XCTAssertTrue(folder.exists("keep/old.bin"))

        let children = try await fixture.count(
            "SELECT count(*) FROM rota.tasks c JOIN rota.tasks p ON p.id = c.parent_id WHERE p.task IN ('reports.fan_out', 'cleanup.scan')")
        XCTAssertEqual(children, 7)
    }
}
