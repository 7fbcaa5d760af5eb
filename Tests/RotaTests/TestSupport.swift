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

extension RotaClient {
    /// The state of a task (nil when there is no such task).
    func state(of id: Int64) async throws -> String? {
        try await query("SELECT state FROM rota.tasks WHERE id = $1::bigint", [id]).first?.decode("state")
    }
}
