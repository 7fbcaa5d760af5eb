import XCTest
@testable import Rota

/// The one-shot event behind a handler's abort: the first value fired wins, for waiters and
/// for observers, whenever they came.
final class OneShotEventTests: XCTestCase {
    func testAnObserverSeesTheFirstValueOnceAndALateObserverSeesItAtOnce() async {
        let event = OneShotEvent<Int>()
        let early = Recorder<Int>()
        event.onFire { early.append($0) }
        XCTAssertEqual(early.all, [], "nothing fired yet")
        XCTAssertTrue(event.fire(1))
        XCTAssertFalse(event.fire(2), "the second fire loses")
        XCTAssertEqual(early.all, [1], "called once, with the winning value")
        let late = Recorder<Int>()
        event.onFire { late.append($0) }
        XCTAssertEqual(late.all, [1], "an observer added after the fire is called at once")
        let waited = await event.wait()
        XCTAssertEqual(waited, 1)
    }
}
