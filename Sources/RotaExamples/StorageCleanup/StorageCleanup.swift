import Foundation
import Rota

/// The storage cleanup example: every hour a schedule fires `cleanup.scan`, which lists the
/// folders under a root (e.g. `tmp/uploads/`, `tmp/exports/` under `tmp/`) and enqueues one
/// `cleanup.prefix` task per folder on the rate-limited `cleanup` queue; each deletes the
/// objects in its folder last modified before the cutoff (the fire's time minus a max age).
///
/// The scan's children are keyed by the fire (`fire:<name>:<fire_at>/<prefix>`), so a
/// retried scan adds no second task for a folder, while the next fire cleans every folder
/// again. A `cleanup.prefix` task deletes what is older than the cutoff carried in its
/// payload in batches, each recorded as a step, so after a crash halfway the retry resumes
/// after the last recorded batch (``cleanPrefix(_:cutoff:context:)``).
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

    /// The default number of objects a `cleanup.prefix` batch examines.
    public static let defaultBatchSize = 100

    /// Where the objects are.
    public let store: any ObjectStore
    /// Objects examined per batch (a step of `cleanup.prefix`): a crash repeats at most
    /// this many deletions, and a folder of n objects records n / batchSize + 1 steps.
    public let batchSize: Int

    public init(store: any ObjectStore, batchSize: Int = defaultBatchSize) {
        self.store = store
        self.batchSize = max(1, batchSize)
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

    /// Deletes the objects under `prefix` last modified before `cutoff`, keeping the rest, as
    /// a workflow: the objects are taken in key order, ``batchSize`` at a time, and each
    /// batch is a step (`batch-1`, `batch-2`, ...) whose output records the last key it
    /// examined. An attempt after a crash returns the recorded batches without running them
    /// and goes on after the last confirmed one; only the batch that was cut short runs again
    /// (deleting a deleted object succeeds). The last step is the batch that found nothing left.
    public func cleanPrefix(_ prefix: String, cutoff: Date, context: TaskContext) async throws -> PrefixSummary {
        // An empty prefix would mean "everything in the store": never a temporary folder.
        guard !prefix.isEmpty, prefix.hasSuffix("/") else {
            throw RotaTaskError.nonRetryable("cleanup.prefix: prefix must be a folder ending with /, got \(prefix)")
        }
        // This attempt's listing in key order, read by the first batch that runs (none when
        // every batch was recorded); the batches after it take up where the last one ended.
        var listing: [ObjectInfo]?
        var summary = PrefixSummary(prefix: prefix, cutoff: UTCTimestamp.format(cutoff), deleted: 0, deletedBytes: 0,
                                    kept: 0, batches: 0)
        var after: String?
        for number in 1... {
            let batch = try await context.step("batch-\(number)") { () -> BatchSummary in
                if listing == nil { listing = try await store.list(prefix: prefix).sorted { $0.key < $1.key } }
                let remaining = (listing ?? []).drop { object in after.map { object.key <= $0 } ?? false }
                return try await deleteOld(Array(remaining.prefix(batchSize)), under: prefix, cutoff: cutoff)
            }
            guard let last = batch.lastKey else { break }
            after = last
            summary.add(batch)
        }
        return summary
    }

    /// Deletes those of `objects` modified before `cutoff`.
    private func deleteOld(_ objects: [ObjectInfo], under prefix: String, cutoff: Date) async throws -> BatchSummary {
        var batch = BatchSummary(lastKey: objects.last?.key, deleted: 0, deletedBytes: 0, kept: 0)
        for object in objects {
            // Stop between deletions when the task is cancelled; the retry redoes this batch.
            try Task.checkCancellation()
            guard object.key.hasPrefix(prefix), object.modifiedAt < cutoff else {
                batch.kept += 1
                continue
            }
            try await store.delete(object.key)
            batch.deleted += 1
            batch.deletedBytes += object.size
        }
        return batch
    }
}
