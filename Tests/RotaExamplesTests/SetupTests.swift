import Foundation
import Rota
import RotaExamples
import RotaTestSupport
import XCTest

/// `rota-examples setup --grant-to ROLE` (``RotaExamples/grantWorkerPrivileges(to:connectionString:logger:)``):
/// a login role granted by it does what a replica of the examples' worker does, logged in as
/// itself, and nothing an administrator does.
final class SetupTests: XCTestCase {
    func testTheGrantedRoleRunsAReplicasWorkAndNoMore() async throws {
        let fixture = try await ExamplesFixture.make(for: self)
        let role = "rota_test_examples_app"
        let admin = try await PostgresConnection.connect(fixture.url)
        try await admin.executeScript("""
            SET client_min_messages = warning;
            DROP ROLE IF EXISTS \(role);
            CREATE ROLE \(role) LOGIN;
            """)
        addTeardownBlock {
            try? await admin.executeScript("DROP OWNED BY \(role); DROP ROLE \(role)")
            await admin.close()
        }
        guard var components = URLComponents(string: fixture.url) else { throw RotaError(.invalidArgument, fixture.url) }
        components.user = role
        components.password = nil
        let appURL = try XCTUnwrap(components.string)
        // a replica started before setup granted its role: one clear error
        do {
            try await MonthlyReports.requireSchema(connectionString: appURL, logger: quietLogger("rota.test.setup"))
            XCTFail("requireSchema passed before the grants")
        } catch let error as RotaError {
            XCTAssertTrue(error.message.contains("rota-examples setup --grant-to \(role)"), error.message)
        }
        // twice: a second setup finds everything granted
        for _ in 0..<2 {
            try await RotaExamples.grantWorkerPrivileges(to: role, connectionString: fixture.url,
                                                         logger: quietLogger("rota.test.setup"))
        }
        try await fixture.addTenants(1...2)
        try await fixture.addOrder(tenant: 1, amount: "12.50", at: "2026-03-10T12:00:00Z")

        try await MonthlyReports.requireSchema(connectionString: appURL, logger: quietLogger("rota.test.setup"))
        let app = RotaClient(connectionString: appURL, logger: quietLogger("rota.test.app"))
        // a worker logged in as the role runs a report (reads the tenants and orders, upserts
        // its row in a transactional step); the fan-out enqueues (rota_producer); the health
        // check reads the views (rota_reader)
        let id = try await app.enqueue(queue: MonthlyReports.queue, task: MonthlyReports.generateTask,
                                       payload: MonthlyReports.GeneratePayload(tenantID: 1, month: ReportMonth(year: 2026, month: 3)))
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        var handlers = RotaHandlers()
        RotaExamples.register(into: &handlers, client: app, store: try LocalDirectoryStore(root: folder.url))
        try await withExamplesWorker(url: appURL, handlers: handlers) {
            try await waitUntil("the report ended") {
                let state = try await fixture.client.task(id: id)?.state
                return state == .succeeded || state == .failed
            }
        }
        let found = try await fixture.client.task(id: id)
        let report = try fixture.result(of: try XCTUnwrap(found), as: MonthlyReports.Report.self)
        XCTAssertEqual(report.orderCount, 1)
        XCTAssertTrue(report.changed)
        let queues = try await app.queueStats()
        XCTAssertEqual(Set(queues.map(\.queue)), ["reports", "cleanup"])
        _ = try await app.query("SELECT rota.register_executor('setup-test', ARRAY['reports'])")

        // and nothing more: no table of rota's, no definitions, no migrations
        for statement in ["SELECT count(*) FROM rota.tasks",
                          "SELECT rota.apply('{\"version\": 2}'::jsonb)",
                          "DELETE FROM rota_examples.tenants"] {
            do {
                _ = try await app.query(statement)
                XCTFail("\(role) ran: \(statement)")
            } catch let error as RotaError {
                XCTAssertTrue(error.message.contains("permission denied"), "\(statement): \(error.message)")
            }
        }
        let attributes = try await admin.query(
            "SELECT rolsuper OR rolcreaterole OR rolcreatedb OR pg_has_role($1::text, 'rota_admin', 'MEMBER') AS privileged FROM pg_roles WHERE rolname = $1::text",
            [role])[0].decode("privileged", as: Bool.self)
        XCTAssertFalse(attributes)
        await app.close()
    }
}
