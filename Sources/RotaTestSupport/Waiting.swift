import Rota
import XCTest

/// Polls `condition` until it holds or `timeout` passes (errors count as "not yet", so a
/// poll survives a database restart). Fails the test on timeout.
@discardableResult
public func waitUntil(_ description: String, timeout: Duration = .seconds(30), every interval: Duration = .milliseconds(20),
                      file: StaticString = #filePath, line: UInt = #line,
                      _ condition: () async throws -> Bool) async throws -> Duration {
    let clock = ContinuousClock()
    let start = clock.now
    var lastError: (any Error)?
    while clock.now - start < timeout {
        do {
            if try await condition() { return clock.now - start }
        } catch {
            lastError = error
        }
        try await Task.sleep(for: interval)
    }
    XCTFail("timed out after \(timeout) waiting until \(description)\(lastError.map { " (last error: \($0))" } ?? "")",
            file: file, line: line)
    throw RotaError(.timeout, "timed out waiting until \(description)")
}

/// Waits until `client`'s database has no client backend but the one of this call: after a
/// SIGKILL, the killed process's backends still finish the statement in flight (a
/// checkpoint or a COMMIT sent just before the signal commits then), so read what the
/// killed process wrote only once they have ended.
public func waitUntilOtherBackendsEnded(_ client: RotaClient, timeout: Duration = .seconds(30),
                                        file: StaticString = #filePath, line: UInt = #line) async throws {
    try await waitUntil("the other sessions of the database ended", timeout: timeout, every: .milliseconds(10),
                        file: file, line: line) {
        try await client.query(
            """
            SELECT count(*) AS n FROM pg_stat_activity
            WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
            """)[0].decode("n", as: Int.self) == 0
    }
}
