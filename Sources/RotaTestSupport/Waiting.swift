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
