import Foundation
import Rota
import RotaTestSupport
import XCTest

/// Queue and schedule options set from Swift reach `rota.define_queue` / `rota.define_schedule`
/// and `rota.apply`, the alert thresholds among them; those left nil keep the SQL defaults.
final class DefinitionOptionsTests: XCTestCase {
    func database() async throws -> String { try await SharedDatabases.shared.url("rota_test_swift_definitions") }

    func thresholds(_ client: RotaClient, queue: String) async throws -> [String] {
        let row = try await client.query(
            """
            SELECT alert_stuck_after::text, alert_failures_per_minute::text, alert_failure_ratio::text,
                   alert_failure_window::text, alert_dead_per_hour::text, alert_unreaped_after::text
            FROM rota.queues WHERE name = $1
            """, [queue])[0]
        return try (0..<6).map { try row.decode(at: $0, as: String.self) }
    }

    func testQueueAlertThresholdsSetFromSwiftAndDefaultsKept() async throws {
        let client = RotaClient(connectionString: try await database())
        try await client.defineQueue("d_alerts", options: QueueOptions(
            alerts: QueueAlertThresholds(stuckAfter: .seconds(90), failuresPerMinute: 12.5, failureRatio: 0.25,
                                         failureWindow: .seconds(600), deadPerHour: 3, unreapedAfter: .seconds(30))))
        let set = try await thresholds(client, queue: "d_alerts")
        XCTAssertEqual(set, ["00:01:30", "12.5", "0.25", "00:10:00", "3", "00:00:30"])

        try await client.defineQueue("d_alerts", options: QueueOptions(alerts: QueueAlertThresholds(deadPerHour: 7)))
        let defaults = try await thresholds(client, queue: "d_alerts")
        XCTAssertEqual(defaults, ["00:05:00", "60", "0.5", "00:05:00", "7", "00:01:00"])
    }

    func testInvalidAlertThresholdIsRejectedByName() async throws {
        let client = RotaClient(connectionString: try await database())
        do {
            try await client.defineQueue("d_bad_ratio", options: QueueOptions(alerts: QueueAlertThresholds(failureRatio: 1.5)))
            XCTFail("a failure ratio above 1 was accepted")
        } catch let error as RotaError {
            XCTAssertEqual(error.code, .invalidArgument)
            XCTAssertTrue(error.message.contains("alert_failure_ratio"), error.message)
        }
        let written = try await client.query("SELECT count(*)::int FROM rota.queues WHERE name = 'd_bad_ratio'")[0]
        XCTAssertEqual(try written.decode(at: 0, as: Int.self), 0)
    }

    func testScheduleLateThresholdFromSwiftAndFromADefinitionsDocument() async throws {
        let client = RotaClient(connectionString: try await database())
        try await client.defineQueue("d_sched")
        try await client.defineSchedule("d_late", cron: "0 3 * * *", queue: "d_sched", task: "noop",
                                        alertLateAfter: .seconds(300))
        let direct = try await client.query("SELECT alert_late_after::text FROM rota.schedules WHERE name = 'd_late'")[0]
        XCTAssertEqual(try direct.decode(at: 0, as: String.self), "00:05:00")

        let version = Int(Date().timeIntervalSince1970)  // above any version an earlier run applied
        let document = DefinitionsDocument(
            version: version,
            queues: [.init(name: "d_doc", alertStuckAfter: "2 minutes", alertFailuresPerMinute: 5,
                           alertFailureRatio: 0.75, alertFailureWindow: "15 minutes", alertDeadPerHour: 4,
                           alertUnreapedAfter: "10 seconds")],
            schedules: [.init(name: "d_doc_late", cron: "*/5 * * * *", queue: "d_doc", task: "noop",
                              alertLateAfter: "45 seconds")])
        try await document.apply(using: client)
        let queue = try await thresholds(client, queue: "d_doc")
        XCTAssertEqual(queue, ["00:02:00", "5", "0.75", "00:15:00", "4", "00:00:10"])
        let late = try await client.query("SELECT alert_late_after::text FROM rota.schedules WHERE name = 'd_doc_late'")[0]
        XCTAssertEqual(try late.decode(at: 0, as: String.self), "00:00:45")
    }
}
