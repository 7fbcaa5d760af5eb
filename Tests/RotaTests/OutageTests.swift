import Foundation
import Rota
import RotaTestSupport
import XCTest

/// The worker when its database becomes unreachable for longer than a lease.
final class OutageTests: XCTestCase {
    func testHeartbeatsFailingLongerThanTheLeaseCancelTheHandlerAndGiveTheTaskBack() async throws {
        let server = try await TestEnvironment.serverURL()
        let name = "rota_test_swift_outage"
        let url = try await TestEnvironment.freshDatabase(name)
        let client = RotaClient(connectionString: url, connectTimeout: .seconds(5))
        try await client.defineQueue("o_lease", options: QueueOptions(lease: .seconds(1), backoffBase: .milliseconds(100)))
        let blocking = UntilCancelledHandler()
        let started = blocking.started, cancelled = blocking.cancelled
        var handlers = RotaHandlers()
        blocking.register("forever", in: &handlers)
        let admin = try await PostgresConnection.connect(server)
        do {
            try await withWorker(url: url, queues: ["o_lease": 1], handlers: handlers) { _, _ in
                let id = try await client.enqueue(queue: "o_lease", task: "forever")
                try await waitUntil("the handler started") { started.count == 1 }
                // Cut the database off: no new connections, and every open one is ended.
                try await admin.query("ALTER DATABASE \(name) WITH ALLOW_CONNECTIONS false")
                try await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [name])
                let cutOff = ContinuousClock.now
                let took = try await waitUntil("the handler was cancelled for a lost lease", timeout: .seconds(10)) {
                    cancelled.count == 1
                }
                print("database unreachable → handler cancelled after \(took) (lease 1 s)")
                // The lease counts from the last successful heartbeat, at most a heartbeat interval
                // (lease / 3) before the cut-off: the handler stops once the lease ran out, not before.
                let sinceCutOff = ContinuousClock.now - cutOff
                XCTAssertGreaterThanOrEqual(sinceCutOff, .seconds(1) - .milliseconds(340), "not before the lease ran out")
                XCTAssertLessThanOrEqual(sinceCutOff, .seconds(1) + .milliseconds(340) + .milliseconds(500))
                try await admin.query("ALTER DATABASE \(name) WITH ALLOW_CONNECTIONS true")
                // Back online: the task is given back (the worker's fail, or a reaper) and runs again.
                // (The client's own connection was ended too; waitUntil retries past that error.)
                try await waitUntil("the task ran again under a new attempt", timeout: .seconds(20)) {
                    let task = try await client.task(id: id)
                    return started.count >= 2 && (task?.attemptCount ?? 0) >= 2
                }
                let history = try await client.attempts(taskID: id)
                print("attempt history after the outage: \(history.map { "\($0.attempt):\($0.outcome)" })")
                try await client.cancel(taskID: id)
            }
        } catch {
            _ = try? await admin.query("ALTER DATABASE \(name) WITH ALLOW_CONNECTIONS true")
            throw error
        }
        await admin.close()
        await client.close()
    }
}
