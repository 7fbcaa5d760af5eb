import Foundation
@testable import Rota
import RotaTestSupport
import XCTest

/// The driver under least privilege: a worker and a client that log in as roles holding
/// only `rota_worker` and `rota_producer` run a task end to end, and one holding only
/// `rota_reader` reads it back.
final class RoleTests: XCTestCase {
    struct Numbers: Codable, Sendable { var n: Int }
    struct Doubled: Codable, Sendable, Equatable { var doubled: Int }

    /// The same database, logged in as `user` (the project-local cluster trusts local logins).
    func url(_ url: String, as user: String) throws -> String {
        guard var components = URLComponents(string: url) else {
            throw RotaError(.invalidArgument, "not a URI: \(url)")
        }
        components.user = user
        components.password = nil
        return try XCTUnwrap(components.string)
    }

    func testWorkerAndProducerRolesRunATaskEndToEnd() async throws {
        let url = try await SharedDatabases.shared.url("rota_test_swift_roles")
        let superuser = RotaClient(connectionString: url)
        let roles = try await PostgresConnection.connect(url)
        try await roles.executeScript("""
            SET client_min_messages = warning;
            DROP ROLE IF EXISTS rota_test_swift_worker, rota_test_swift_producer, rota_test_swift_reader;
            CREATE ROLE rota_test_swift_worker LOGIN IN ROLE rota_worker;
            CREATE ROLE rota_test_swift_producer LOGIN IN ROLE rota_producer;
            CREATE ROLE rota_test_swift_reader LOGIN IN ROLE rota_reader;
            """)
        try await superuser.defineQueue("roles_e2e")
        let producerURL = try self.url(url, as: "rota_test_swift_producer")
        let producer = RotaClient(connectionString: producerURL)
        let producerConnection = try await PostgresConnection.connect(producerURL)

        var handlers = RotaHandlers()
        handlers.register("double") { (payload: Numbers, _) -> Doubled in Doubled(doubled: payload.n * 2) }
        try await withWorker(url: try self.url(url, as: "rota_test_swift_worker"), queues: ["roles_e2e": 2],
                             handlers: handlers) { _, _ in
            let id = try await producer.enqueue(queue: "roles_e2e", task: "double", payload: Numbers(n: 21))
            try await waitUntil("the task succeeded, as its producer sees it") {
                try await producerConnection.query("SELECT state FROM rota.task_status($1::bigint)", [id])[0]
                    .decode("state", as: String.self) == "succeeded"
            }
            let result = try await producerConnection.query("SELECT result FROM rota.task_status($1::bigint)", [id])[0]
                .decodeJSON("result", as: Doubled.self)
            XCTAssertEqual(result, Doubled(doubled: 42))
            let state = try await superuser.state(of: id)
            XCTAssertEqual(state, "succeeded")
            // A reader sees the task and its history (what `rota tasks show` and the dashboard read).
            let reader = RotaClient(connectionString: try self.url(url, as: "rota_test_swift_reader"))
            let record = try await reader.task(id: id)
            XCTAssertEqual(record?.state, .succeeded)
            let listed = try await reader.tasks(queue: "roles_e2e")
            XCTAssertEqual(listed.map(\.id), [id])
            await reader.close()
        }
        // The producer reaches the tables only through the functions.
        do {
            _ = try await producerConnection.query("SELECT count(*) FROM rota.tasks")
            XCTFail("a producer read rota.tasks")
        } catch let error as RotaError {
            XCTAssertTrue(error.message.contains("permission denied"), error.message)
        }
        await producerConnection.close()
        await producer.close()
        try await roles.executeScript("DROP ROLE rota_test_swift_worker, rota_test_swift_producer, rota_test_swift_reader")
        await roles.close()
        await superuser.close()
    }
}
