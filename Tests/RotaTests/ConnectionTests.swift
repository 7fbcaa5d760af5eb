import Foundation
@testable import Rota
import RotaTestSupport
import XCTest

final class ConnectionTests: XCTestCase {
    func database() async throws -> String { try await SharedDatabases.shared.url("rota_test_swift_connection") }

    func testBoundParametersKeepQuotesUnicodeAndNull() async throws {
        let connection = try await PostgresConnection.connect(try await database())
        let tricky = "it's \"quoted\" \\ back'; DROP TABLE x; --"
        let unicode = "héllo ✓ 日本語 🚀"
        let rows = try await connection.query("SELECT $1::text AS a, $2::text AS b, $3::text AS c, $4::text IS NULL AS d",
                                              [tricky, unicode, String?.none, String?.none])
        XCTAssertEqual(try rows[0].decode("a", as: String.self), tricky)
        XCTAssertEqual(try rows[0].decode("b", as: String.self), unicode)
        XCTAssertNil(try rows[0].decode("c", as: String?.self))
        XCTAssertTrue(try rows[0].decode("d", as: Bool.self))
        // The same SQL again reuses the prepared statement.
        let again = try await connection.query("SELECT $1::text AS a, $2::text AS b, $3::text AS c, $4::text IS NULL AS d",
                                               ["x", "y", "z", "w"])
        XCTAssertEqual(try again[0].decode("c", as: String.self), "z")
        await connection.close()
    }

    func testDecodesTypes() async throws {
        let connection = try await PostgresConnection.connect(try await database())
        let rows = try await connection.query("""
            SELECT 42::int AS i, 9000000000::bigint AS b, 7::int4 AS i32, true AS t, false AS f, 1.5::float8 AS d,
                   '2026-01-02 03:04:05.123456+00'::timestamptz AS ts, ARRAY['a', 'b,c', 'd"e', 'x\\y']::text[] AS arr,
                   ARRAY[1, 2, 3]::bigint[] AS ids, '{"name": "x", "n": 3}'::jsonb AS j, NULL::int AS n
            """)
        let row = rows[0]
        XCTAssertEqual(try row.decode("i", as: Int.self), 42)
        XCTAssertEqual(try row.decode("b", as: Int64.self), 9_000_000_000)
        XCTAssertEqual(try row.decode("i32", as: Int32.self), 7)
        XCTAssertTrue(try row.decode("t", as: Bool.self))
        XCTAssertFalse(try row.decode("f", as: Bool.self))
        XCTAssertEqual(try row.decode("d", as: Double.self), 1.5)
        let date = try row.decode("ts", as: Date.self)
        XCTAssertEqual(date.timeIntervalSince1970, 1_767_323_045.123456, accuracy: 0.000001)
        XCTAssertEqual(try row.decode("arr", as: [String].self), ["a", "b,c", "d\"e", "x\\y"])
        XCTAssertEqual(try row.decode("ids", as: [Int64].self), [1, 2, 3])
        struct Thing: Decodable, Equatable { var name: String; var n: Int }
        XCTAssertEqual(try row.decodeJSON("j", as: Thing.self), Thing(name: "x", n: 3))
        XCTAssertNil(try row.decode("n", as: Int?.self))
        XCTAssertThrowsError(try row.decode("n", as: Int.self)) { error in
            XCTAssertEqual((error as? RotaError)?.code, .decodingFailed)
        }

        // Dates and arrays as parameters round-trip exactly.
        let now = Date(timeIntervalSince1970: 1_767_323_045.654321)
        let strings = ["a", "b,c", "d\"e", "x\\y", "{}", "NULL", ""]
        let echoed = try await connection.query("SELECT $1::timestamptz AS ts, $2::text[] AS arr, $3::int[] AS nums",
                                                [now, strings, [1, 2, 3]])
        XCTAssertEqual(try echoed[0].decode("ts", as: Date.self).timeIntervalSince1970, now.timeIntervalSince1970, accuracy: 0.000001)
        XCTAssertEqual(try echoed[0].decode("arr", as: [String].self), strings)
        XCTAssertEqual(try echoed[0].decode("nums", as: [Int].self), [1, 2, 3])
        await connection.close()
    }

    func testErrorsCarrySQLStateAndStableCodes() async throws {
        let client = RotaClient(connectionString: try await database())
        do {
            try await client.enqueue(queue: "no-such-queue", task: "t")
            XCTFail("enqueue into an unknown queue succeeded")
        } catch let error as RotaError {
            XCTAssertEqual(error.code, .unknownQueue)
            XCTAssertEqual(error.sqlState, "RO001")
            XCTAssertTrue(error.message.contains("no-such-queue"), error.message)
        }
        do {
            try await client.defineQueue("bad", options: QueueOptions(concurrency: -1))
            XCTFail("a negative concurrency was accepted")
        } catch let error as RotaError {
            XCTAssertEqual(error.code, .invalidArgument)
            XCTAssertEqual(error.sqlState, "RO010")
        }
        do {
            try await client.query("SELEC 1")
            XCTFail("a syntax error succeeded")
        } catch let error as RotaError {
            XCTAssertEqual(error.code, .serverError)
            XCTAssertEqual(error.sqlState, "42601")
        }
        // The connection is still usable after errors.
        let one = try await client.query("SELECT 1 AS one")[0].decode("one", as: Int.self)
        XCTAssertEqual(one, 1)
        await client.close()
    }

    /// A statement that loses a real deadlock is a transient conflict (the completion batcher
    /// sends such a batch again instead of failing its tasks), not a connection error.
    func testALostDeadlockIsATransientConflict() async throws {
        let url = try await database()
        let setup = try await PostgresConnection.connect(url)
        try await setup.executeScript("""
            SET client_min_messages = warning;
            DROP TABLE IF EXISTS deadlock_probe;
            CREATE TABLE deadlock_probe (id int PRIMARY KEY, n int NOT NULL DEFAULT 0);
            INSERT INTO deadlock_probe (id) VALUES (1), (2);
            """)
        let first = try await PostgresConnection.connect(url)
        let second = try await PostgresConnection.connect(url)
        try await first.executeScript("BEGIN; UPDATE deadlock_probe SET n = n + 1 WHERE id = 1")
        try await second.executeScript("BEGIN; UPDATE deadlock_probe SET n = n + 1 WHERE id = 2")
        async let firstWaits: RotaError? = {
            do { try await first.query("UPDATE deadlock_probe SET n = n + 1 WHERE id = 2"); return nil }
            catch { return error as? RotaError }
        }()
        try await waitUntil("the first transaction waits for the second's row lock") {
            try await setup.query("""
                SELECT count(*)::int AS waiting FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event_type = 'Lock'
                """)[0].decode("waiting", as: Int.self) == 1
        }
        var secondError: RotaError?
        do { try await second.query("UPDATE deadlock_probe SET n = n + 1 WHERE id = 1") }
        catch { secondError = error as? RotaError }
        let errors = [await firstWaits, secondError].compactMap { $0 }
        XCTAssertEqual(errors.count, 1, "exactly one side loses the deadlock: \(errors)")
        XCTAssertEqual(errors.first?.sqlState, "40P01")
        XCTAssertEqual(errors.first?.isTransientConflict, true)
        XCTAssertEqual(errors.first?.isConnectionError, false)
        do {
            try await setup.query("SELEC 1")
        } catch let error as RotaError {
            XCTAssertFalse(error.isTransientConflict, "a syntax error is not a transient conflict")
        }
        try await first.executeScript("ROLLBACK")
        try await second.executeScript("ROLLBACK")
        try await setup.executeScript("DROP TABLE deadlock_probe")
        await first.close()
        await second.close()
        await setup.close()
    }

    func testConnectionFailureIsReported() async throws {
        do {
            _ = try await PostgresConnection.connect("postgresql://postgres@127.0.0.1:1/none?connect_timeout=2")
            XCTFail("connected to port 1")
        } catch let error as RotaError {
            XCTAssertEqual(error.code, .connectionFailed)
        }
    }

    func testListenNotify() async throws {
        let url = try await database()
        let listener = PostgresListener(connectionString: url, channels: ["rota_test_channel"])
        let connection = try await PostgresConnection.connect(url)
        var iterator = listener.events.makeAsyncIterator()
        let first = await iterator.next()
        XCTAssertEqual(first, .listening)
        let sent = ContinuousClock.now
        try await connection.query("SELECT pg_notify($1, $2)", ["rota_test_channel", "hello 'world' ✓"])
        let event = await iterator.next()
        guard case .notification(let notification) = event else { return XCTFail("expected a notification, got \(String(describing: event))") }
        XCTAssertEqual(notification.channel, "rota_test_channel")
        XCTAssertEqual(notification.payload, "hello 'world' ✓")
        print("LISTEN/NOTIFY latency: \(ContinuousClock.now - sent)")
        listener.shutdown()
        let end = await iterator.next()
        XCTAssertNil(end, "the stream ends after shutdown")
        await connection.close()
    }

    func testReconnectsAfterTheConnectionIsLost() async throws {
        let url = try await database()
        let connection = ReconnectingConnection(connectionString: url, connectTimeout: .seconds(5))
        let pid = try await connection.query("SELECT pg_backend_pid() AS pid")[0].decode("pid", as: Int.self)
        let admin = try await PostgresConnection.connect(url)

        // Closed by the server while idle: noticed before the next statement is sent, which
        // then runs on a new connection instead of failing.
        let gone = try await admin.query("SELECT pg_terminate_backend($1::int, 5000) AS gone", [pid])[0]
        XCTAssertTrue(try gone.decode("gone", as: Bool.self))
        let newPID = try await connection.query("SELECT pg_backend_pid() AS pid")[0].decode("pid", as: Int.self)
        XCTAssertNotEqual(newPID, pid)

        // Lost while a statement runs: its outcome is unknown, so the error reaches the caller.
        async let sleeping = connection.query("SELECT pg_sleep(30)")
        _ = try await waitUntil("the statement is running") {
            try await admin.query("SELECT count(*) AS n FROM pg_stat_activity WHERE pid = $1::int AND query LIKE '%pg_sleep(30)%' AND state = 'active'",
                                  [newPID])[0].decode("n", as: Int.self) == 1
        }
        try await admin.query("SELECT pg_terminate_backend($1::int)", [newPID])
        do {
            _ = try await sleeping
            XCTFail("a statement whose connection was terminated succeeded")
        } catch let error as RotaError {
            XCTAssertEqual(error.code, .connectionLost)
        }
        await admin.close()

        // The next statement connects again; prepared statements are prepared again on it.
        let two = try await connection.query("SELECT $1::int + 1 AS n", [1])[0].decode("n", as: Int.self)
        XCTAssertEqual(two, 2)
        await connection.close()
    }

    func testClientEncodingIsPinnedToUTF8() async throws {
        // The driver escapes array elements for UTF-8; under SJIS, BIG5 or GBK the byte of an
        // escaped quote can end a multibyte character and the element early.
        let url = try await database()
        for asked in ["\(url)?client_encoding=SJIS", "\(url)?options=-c%20client_encoding%3DBIG5"] {
            let connection = try await PostgresConnection.connect(asked)
            let encoding = try await connection.query("SHOW client_encoding")[0].decode(at: 0, as: String.self)
            XCTAssertEqual(encoding, "UTF8", "connection string \(asked)")
            let element = "表\"}{,\\"
            let echoed = try await connection.query("SELECT $1::text[] AS a", [[element, "x"]])[0].decode("a", as: [String].self)
            XCTAssertEqual(echoed, [element, "x"])
            await connection.close()
        }
    }

    func testMigrateIsIdempotent() async throws {
        let client = RotaClient(connectionString: try await database())
        try await client.migrate()
        try await client.migrate()
        let count = try await client.query("SELECT count(*) AS n FROM rota._migrations")[0].decode("n", as: Int.self)
        XCTAssertGreaterThanOrEqual(count, 1)
        await client.close()
    }

    func testScriptExpansionSkipsPsqlLines() throws {
        let script = RotaSchema.installScript
        XCTAssertFalse(script.split(separator: "\n").contains { $0.hasPrefix("\\") })
        XCTAssertTrue(script.contains("rota._migrate"))
    }
}
