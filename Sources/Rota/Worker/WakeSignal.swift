import Dispatch
import Synchronization

/// An auto-resetting wake-up for one waiting loop: ``signal()`` wakes the current waiter,
/// or, when nobody waits, makes the next ``wait(timeout:)`` return at once. Signals
/// coalesce, so a burst of notifications causes one wake-up.
final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var waiter: (id: UInt64, continuation: CheckedContinuation<Void, Never>)?
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Wakes the waiter (or the next one).
    func signal() {
        let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter.continuation
            }
            state.pending = true
            return nil
        }
        continuation?.resume()
    }

    /// Returns when signalled, when `timeout` passes, or when the task is cancelled.
    ///
    /// One continuation and a dispatch timer: no child tasks. The claim loop waits here
    /// for every claim, and a task group with a waiting and a sleeping child each time
    /// showed in the worker's CPU per task.
    func wait(timeout: Duration) async {
        let id = state.withLock { state -> UInt64? in
            if state.pending {
                state.pending = false
                return nil
            }
            state.nextID += 1
            return state.nextID
        }
        guard let id else { return }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.pending || Task.isCancelled {
                        state.pending = false
                        return true
                    }
                    state.waiter = (id, continuation)
                    return false
                }
                if resumeNow {
                    continuation.resume()
                    return
                }
                DispatchQueue.global().asyncAfter(deadline: .now() + timeout.dispatchInterval) { [self] in
                    resumeWaiter(id)
                }
            }
        } onCancel: {
            resumeWaiter(id)
        }
    }

    /// Resumes the waiter `id` unless a signal or the timer did already.
    private func resumeWaiter(_ id: UInt64) {
        let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter, waiter.id == id else { return nil }
            state.waiter = nil
            return waiter.continuation
        }
        continuation?.resume()
    }
}

extension Duration {
    /// The duration as a dispatch interval, saturating (negative: zero).
    fileprivate var dispatchInterval: DispatchTimeInterval {
        .nanoseconds(Int(clamping: max(0, nanoseconds)))
    }
}

/// A one-shot event carrying a value: the first ``fire(_:)`` wins and every current and
/// future ``wait()`` returns it.
final class OneShotEvent<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var waiters: [UInt64: CheckedContinuation<Value?, Never>] = [:]
        var nextID: UInt64 = 0
        var observers: [@Sendable (Value) -> Void] = []
    }

    private let state = Mutex(State())

    /// The value, once fired.
    var value: Value? { state.withLock { $0.value } }

    /// Fires with `value` unless already fired; returns whether this call fired it.
    @discardableResult
    func fire(_ value: Value) -> Bool {
        let fired = state.withLock { state -> ([CheckedContinuation<Value?, Never>], [@Sendable (Value) -> Void])? in
            guard state.value == nil else { return nil }
            state.value = value
            defer {
                state.waiters = [:]
                state.observers = []
            }
            return (Array(state.waiters.values), state.observers)
        }
        guard let (waiters, observers) = fired else { return false }
        for waiter in waiters { waiter.resume(returning: value) }
        for observer in observers { observer(value) }
        return true
    }

    /// Calls `observer` with the value when the event fires (at once if it has): a waiter
    /// that costs no task, for an event that usually never fires.
    func onFire(_ observer: @escaping @Sendable (Value) -> Void) {
        let fired = state.withLock { state -> Value? in
            if state.value == nil { state.observers.append(observer) }
            return state.value
        }
        if let fired { observer(fired) }
    }

    /// The fired value, or nil when the waiting task is cancelled first.
    func wait() async -> Value? {
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Value?, Never>) in
                let immediate = state.withLock { state -> Value?? in
                    if let value = state.value { return .some(value) }
                    if Task.isCancelled { return .some(nil) }
                    state.waiters[id] = continuation
                    return .none
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let continuation = state.withLock { $0.waiters.removeValue(forKey: id) }
            continuation?.resume(returning: nil)
        }
    }
}
