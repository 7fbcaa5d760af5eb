import Synchronization

/// What a readiness probe asks of a ``RotaWorker``: is it connected to the database and
/// registered as an executor. The worker updates it while it runs; probes read it.
public final class RotaWorkerHealth: Sendable {
    private let registered = Atomic<Bool>(false)
    private let connected = Atomic<Bool>(false)

    /// A health record for a worker that has not started yet.
    public init() {}

    /// The executor is registered and not stopped.
    public var isRegistered: Bool { registered.load(ordering: .relaxed) }

    /// The latest statement that reports liveness (registration, heartbeat) succeeded.
    public var isConnected: Bool { connected.load(ordering: .relaxed) }

    /// Connected and registered: the worker claims and runs tasks.
    public var isReady: Bool { isRegistered && isConnected }

    func setRegistered(_ value: Bool) { registered.store(value, ordering: .relaxed) }

    func setConnected(_ value: Bool) { connected.store(value, ordering: .relaxed) }
}
