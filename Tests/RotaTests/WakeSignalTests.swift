import XCTest
@testable import Rota
import RotaTestSupport

/// The claim loop's wake-up: a signal wakes the waiter, or the next wait when nobody waits
/// (once: signals coalesce); otherwise the wait ends at its timeout or when cancelled.
final class WakeSignalTests: XCTestCase {
    /// Long enough that a wait which returns means it was woken, not timed out.
    private static let never: Duration = .seconds(600)

    func testASignalWakesTheWaiter() async throws {
        let signal = WakeSignal()
        let woken = Recorder<Int>()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                await signal.wait(timeout: Self.never)
                woken.append(1)
            }
            // Until the waiter has returned, each signal either wakes it or is left pending
            // for its wait: either way it must return long before its timeout.
            try await waitUntil("the waiter was woken", timeout: .seconds(30)) {
                signal.signal()
                return woken.count == 1
            }
            try await group.waitForAll()
        }
    }

    func testASignalWithNobodyWaitingEndsTheNextWaitOnly() async {
        let signal = WakeSignal()
        signal.signal()
        signal.signal()  // coalesces with the first
        let clock = ContinuousClock()
        let pending = await clock.measure { await signal.wait(timeout: Self.never) }
        XCTAssertLessThan(pending, .seconds(60), "the pending signal ends the wait at once")
        let second = await clock.measure { await signal.wait(timeout: .milliseconds(200)) }
        XCTAssertGreaterThanOrEqual(second, .milliseconds(200), "two signals with nobody waiting wake one wait")
    }

    func testAWaitEndsAtItsTimeout() async {
        let signal = WakeSignal()
        let waited = await ContinuousClock().measure { await signal.wait(timeout: .milliseconds(100)) }
        XCTAssertGreaterThanOrEqual(waited, .milliseconds(100))
    }

    func testCancellingTheWaitingTaskEndsTheWait() async throws {
        let signal = WakeSignal()
        let clock = ContinuousClock()
        let started = clock.now
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await signal.wait(timeout: Self.never) }
            group.cancelAll()
            await group.waitForAll()
        }
        XCTAssertLessThan(clock.now - started, .seconds(60))
        // The cancelled wait left no waiter behind: the next signal is kept for the next wait.
        signal.signal()
        let next = await clock.measure { await signal.wait(timeout: Self.never) }
        XCTAssertLessThan(next, .seconds(60))
    }
}
