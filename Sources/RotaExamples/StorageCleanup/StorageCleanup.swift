import Foundation
import Rota

/// The storage cleanup example: every hour a schedule fires `cleanup.scan`, which lists the
/// folders under a root (e.g. `tmp/uploads/`, `tmp/exports/` under `tmp/`) and enqueues one
/// `cleanup.prefix` task per folder on the rate-limited `cleanup` queue; each deletes the
/// objects in its folder last modified before the cutoff (the fire's time minus a max age).
///
/// Both steps are safe to repeat. The scan's children are keyed by the fire
/// (`fire:<name>:<fire_at>/<prefix>`), so a retried scan adds no second task for a
/// folder, while the next fire cleans every folder again. A `cleanup.prefix` attempt lists
/// its folder afresh and deletes what is older than the cutoff carried in its payload, so
/// after a crash halfway the retry deletes the rest (deleting a deleted object succeeds).
public struct StorageCleanup: Sendable {
    /// The queue of both tasks; its definition limits how many tasks start per second.
    public static let queue = "cleanup"
    /// The task the schedule fires.
    public static let scanTask = "cleanup.scan"
    /// The per-folder task.
    public static let prefixTask = "cleanup.prefix"
    /// The default folder whose sub-folders hold temporary objects.
    public static let defaultRoot = "tmp/"
    /// The default age after which a temporary object is deleted.
    public static let defaultMaxAge: Duration = .seconds(3600)

    /// Where the objects are.
    public let store: any ObjectStore

    public init(store: any ObjectStore) {
        self.store = store
    }

    /// The cutoff of a fire at `scheduledAt`: objects modified before it are old.
    public static func cutoff(scheduledAt: Date, maxAge: Duration) -> Date {
        let (seconds, attoseconds) = maxAge.components
        return scheduledAt.addingTimeInterval(-(Double(seconds) + Double(attoseconds) / 1e18))
    }

    /// Enqueues one `cleanup.prefix` task per folder directly under `root`, as children of
    /// the fan-out's parent, all with the same `cutoff`.
    public func scan(_ fanOut: FanOut, root: String, cutoff: Date) async throws -> ScanSummary {
        guard root.isEmpty || root.hasSuffix("/") else {
            throw RotaTaskError.nonRetryable("cleanup.scan: root must be a folder ending with /, got \(root)")
        }
        let prefixes = try await store.listPrefixes(under: root)
        let cutoffText = UTCTimestamp.format(cutoff)
        let children = prefixes.map { FanOut.Child(key: $0, payload: PrefixPayload(prefix: $0, cutoff: cutoffText)) }
        try await fanOut.enqueue(queue: Self.queue, task: Self.prefixTask, children: children)
        return ScanSummary(root: root, cutoff: cutoffText, prefixes: prefixes)
    }

    /// Deletes the objects under `prefix` last modified before `cutoff`, keeping the rest.
    public func cleanPrefix(_ prefix: String, cutoff: Date) async throws -> PrefixSummary {
        // An empty prefix would mean "everything in the store": never a temporary folder.
        guard !prefix.isEmpty, prefix.hasSuffix("/") else {
            throw RotaTaskError.nonRetryable("cleanup.prefix: prefix must be a folder ending with /, got \(prefix)")
        }
        var deleted = 0
        var deletedBytes: Int64 = 0
        var kept = 0
        for object in try await store.list(prefix: prefix) {
            // Stop between deletions when the task is cancelled; the retry lists again.
            try Task.checkCancellation()
            guard object.key.hasPrefix(prefix), object.modifiedAt < cutoff else {
                kept += 1
                continue
            }
            try await store.delete(object.key)
            deleted += 1
            deletedBytes += object.size
        }
        return PrefixSummary(prefix: prefix, cutoff: UTCTimestamp.format(cutoff), deleted: deleted,
                             deletedBytes: deletedBytes, kept: kept)
    }
}
