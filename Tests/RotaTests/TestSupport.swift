import Rota
import RotaTestSupport
import Synchronization

/// Databases made once per test run and shared by the tests of one class.
actor SharedDatabases {
    static let shared = SharedDatabases()
    private var urls: [String: String] = [:]

    func url(_ name: String) async throws -> String {
        if let url = urls[name] { return url }
        let url = try await TestEnvironment.freshDatabase(name)
        urls[name] = url
        return url
    }
}

/// A thread-safe list of things handlers saw, for assertions.
final class Recorder<Element: Sendable>: Sendable {
    private let items = Mutex<[Element]>([])
    func append(_ item: Element) { items.withLock { $0.append(item) } }
    var all: [Element] { items.withLock { $0 } }
    var count: Int { items.withLock { $0.count } }
}

/// A handler that runs until it is cancelled, recording which tasks started and which
/// were cancelled.
struct UntilCancelledHandler: Sendable {
    let started = Recorder<Int64>()
    let cancelled = Recorder<Int64>()

    func register(_ task: String, in handlers: inout RotaHandlers) {
        let started = started, cancelled = cancelled
        handlers.register(task) { (_: EmptyPayload, context) in
            started.append(context.taskID)
            do {
                try await Task.sleep(for: .seconds(60))
            } catch {
                cancelled.append(context.taskID)
                throw error
            }
        }
    }
}

extension RotaClient {
    /// The state of a task (nil when there is no such task).
    func state(of id: Int64) async throws -> String? {
        try await query("SELECT state FROM rota.tasks WHERE id = $1::bigint", [id]).first?.decode("state")
    }
}
