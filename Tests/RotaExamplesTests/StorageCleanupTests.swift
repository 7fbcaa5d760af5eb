import Foundation
import Rota
import RotaTestSupport
import RotaExamples
import Synchronization
import XCTest

final class StorageCleanupTests: XCTestCase {
    /// A fire at 10:00 with a max age of one hour: the cutoff is 09:00.
    let fireAt = "2026-11-26T10:00:00Z"
    let cutoff = instant("2026-11-26T09:00:00Z")
    let old = instant("2026-11-26T07:30:00Z")
    let new = instant("2026-11-26T09:45:00Z")

    func testCutoffIsTheFireMinusTheMaxAge() {
        XCTAssertEqual(StorageCleanup.cutoff(scheduledAt: instant(fireAt), maxAge: .seconds(3600)), cutoff)
    }

    /// Runs `cleanup.prefix` for `prefix` with this file's cutoff through a worker with the
    /// examples' handlers over `store`.
    func cleanPrefix(_ prefix: String, store: any ObjectStore, batchSize: Int = StorageCleanup.defaultBatchSize,
                     fixture: ExamplesFixture) async throws -> RotaTaskRecord {
        var handlers = RotaHandlers()
        RotaExamples.register(into: &handlers, client: fixture.client, store: store, cleanupBatchSize: batchSize)
        var task: RotaTaskRecord?
        try await withExamplesWorker(url: fixture.url, handlers: handlers) {
            task = try await fixture.run(queue: StorageCleanup.queue, task: StorageCleanup.prefixTask,
                                         payload: StorageCleanup.PrefixPayload(prefix: prefix, cutoff: UTCTimestamp.format(cutoff)))
        }
        return try XCTUnwrap(task)
    }

    func testCleanPrefixDeletesOnlyOldObjectsUnderItsPrefix() async throws {
        let fixture = try await ExamplesFixture.make(for: self)
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("tmp/a/old-1.bin", bytes: 100, modifiedAt: old)
        try folder.write("tmp/a/deep/old-2.bin", bytes: 20, modifiedAt: old)
        try folder.write("tmp/a/new-1.bin", modifiedAt: new)
        try folder.write("tmp/a/at-cutoff.bin", modifiedAt: cutoff)
        try folder.write("tmp/b/old-3.bin", modifiedAt: old)
        try folder.write("keep/old-4.bin", modifiedAt: old)
        let store = try LocalDirectoryStore(root: folder.url)

        let task = try await cleanPrefix("tmp/a/", store: store, fixture: fixture)
        let summary = try fixture.result(of: task, as: StorageCleanup.PrefixSummary.self)
        XCTAssertEqual(summary.deleted, 2)
        XCTAssertEqual(summary.deletedBytes, 120)
        XCTAssertEqual(summary.kept, 2)
        XCTAssertEqual(summary.batches, 1)
        XCTAssertEqual(summary.cutoff, "2026-11-26T09:00:00Z")
        XCTAssertEqual(task.steps.map(\.name), ["batch-1", "batch-2"], "one batch of four objects, then the empty one")
        XCTAssertFalse(folder.exists("tmp/a/old-1.bin"))
        XCTAssertFalse(folder.exists("tmp/a/deep/old-2.bin"))
        XCTAssertTrue(folder.exists("tmp/a/new-1.bin"))
        XCTAssertTrue(folder.exists("tmp/a/at-cutoff.bin"), "not older than the cutoff")
        XCTAssertTrue(folder.exists("tmp/b/old-3.bin"), "another prefix is another task's")
        XCTAssertTrue(folder.exists("keep/old-4.bin"))

        // An empty prefix would clean the whole store: refused, without retries.
        let refused = try await cleanPrefix("", store: store, fixture: fixture)
        XCTAssertEqual(refused.state, .failed)
        XCTAssertEqual(refused.attemptCount, 1)
        XCTAssertTrue(refused.lastError?.contains("prefix must be a folder ending with /") == true, refused.lastError ?? "no error")
        XCTAssertTrue(folder.exists("keep/old-4.bin"))
    }

    func testACrashMidBatchResumesAfterTheLastRecordedBatch() async throws {
        let fixture = try await ExamplesFixture.make(for: self)
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        for n in 1...6 { try folder.write("tmp/a/old-\(n).bin", modifiedAt: old) }
        try folder.write("tmp/a/new.bin", modifiedAt: new)
        // In key order, batches of 2: [new, old-1] [old-2, old-3] [old-4, old-5] [old-6].
        // The first attempt dies at its fourth deletion, in the third batch; during the retry
        // an object vanishes between the listing and its deletion (someone else deleted it).
        let store = FlakyStore(base: try LocalDirectoryStore(root: folder.url), failAfterDeletions: 3,
                               vanishingKey: "tmp/a/old-5.bin", root: folder.url)

        let task = try await cleanPrefix("tmp/a/", store: store, batchSize: 2, fixture: fixture)
        let summary = try fixture.result(of: task, as: StorageCleanup.PrefixSummary.self)
        XCTAssertEqual(task.attemptCount, 2)
        XCTAssertEqual(task.steps.map(\.name), ["batch-1", "batch-2", "batch-3", "batch-4", "batch-5"])
        XCTAssertEqual(task.steps.map(\.attempt), [1, 1, 2, 2, 2],
                       "the batches recorded before the crash were not run again; the one it cut short was")
        XCTAssertEqual(store.deletedKeys, (1...6).map { "tmp/a/old-\($0).bin" }, "each old object deleted once")
        XCTAssertEqual(store.listings, 2, "one listing per attempt")
        XCTAssertEqual(summary.deleted, 6)
        XCTAssertEqual(summary.kept, 1)
        XCTAssertEqual(summary.batches, 4)
        let left = try await LocalDirectoryStore(root: folder.url).list(prefix: "tmp/a/")
        XCTAssertEqual(left.map(\.key), ["tmp/a/new.bin"])
    }

    func testScanEnqueuesOnePrefixTaskPerFolderWithOneCutoffAndARetryAddsNothing() async throws {
        let fixture = try await ExamplesFixture.make(for: self)
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        for bucket in ["uploads", "exports", "thumbnails"] {
            try folder.write("tmp/\(bucket)/x.bin", modifiedAt: old)
        }
        try folder.write("keep/y.bin", modifiedAt: old)
        let cleanup = StorageCleanup(store: try LocalDirectoryStore(root: folder.url))
        let parent = try await fixture.enqueueFire(queue: StorageCleanup.queue, task: StorageCleanup.scanTask,
                                                   schedule: "storage-cleanup", at: fireAt)
        let fanOut = FanOut(client: fixture.client, parentID: parent, parentKey: "schedule:storage-cleanup:\(fireAt)")

        let summary = try await cleanup.scan(fanOut, root: "tmp/", cutoff: cutoff)
        XCTAssertEqual(summary.prefixes, ["tmp/exports/", "tmp/thumbnails/", "tmp/uploads/"])
        XCTAssertEqual(summary.cutoff, "2026-11-26T09:00:00Z")
        let rows = try await fixture.client.query(
            "SELECT key, payload->>'prefix' AS prefix, payload->>'cutoff' AS cutoff, parent_id FROM rota.tasks WHERE task = 'cleanup.prefix' ORDER BY key")
        XCTAssertEqual(try rows.map { try $0.decode("key", as: String.self) },
                       ["tmp/exports/", "tmp/thumbnails/", "tmp/uploads/"].map { "fire:storage-cleanup:\(fireAt)/\($0)" })
        XCTAssertEqual(try Set(rows.map { try $0.decode("cutoff", as: String.self) }), ["2026-11-26T09:00:00Z"])
        XCTAssertEqual(try Set(rows.map { try $0.decode("parent_id", as: Int64.self) }), [parent])

        // A new folder appears before the retry: the retry adds only that one.
        try folder.write("tmp/late/z.bin", modifiedAt: old)
        _ = try await cleanup.scan(fanOut, root: "tmp/", cutoff: cutoff)
        let total = try await fixture.count("SELECT count(*) FROM rota.tasks WHERE task = 'cleanup.prefix'")
        XCTAssertEqual(total, 4)

        // The next fire is a new parent: every folder gets a task again.
        let nextFire = "2026-11-26T11:00:00Z"
        let next = try await fixture.enqueueFire(queue: StorageCleanup.queue, task: StorageCleanup.scanTask,
                                                 schedule: "storage-cleanup", at: nextFire)
        _ = try await cleanup.scan(FanOut(client: fixture.client, parentID: next, parentKey: "schedule:storage-cleanup:\(nextFire)"),
                                   root: "tmp/", cutoff: instant("2026-11-26T10:00:00Z"))
        let afterNext = try await fixture.count("SELECT count(*) FROM rota.tasks WHERE task = 'cleanup.prefix'")
        XCTAssertEqual(afterNext, 8)
    }
}

/// A store that fails once after some deletions, and where one object disappears between
/// the second listing and its deletion; it records the keys it deleted and counts listings.
final class FlakyStore: ObjectStore {
    let base: LocalDirectoryStore
    let root: URL
    let vanishingKey: String
    private let state: Mutex<(deletions: Int, failAfter: Int?, listings: Int, deleted: [String])>

    init(base: LocalDirectoryStore, failAfterDeletions: Int, vanishingKey: String, root: URL) {
        self.base = base
        self.root = root
        self.vanishingKey = vanishingKey
        self.state = Mutex((0, failAfterDeletions, 0, []))
    }

    func list(prefix: String) async throws -> [ObjectInfo] {
        let objects = try await base.list(prefix: prefix)
        let listings = state.withLock { state -> Int in
            state.listings += 1
            return state.listings
        }
        if listings == 2 { try? FileManager.default.removeItem(at: root.appendingPathComponent(vanishingKey)) }
        return objects
    }

    func delete(_ key: String) async throws {
        let fail = state.withLock { state -> Bool in
            if let limit = state.failAfter, state.deletions >= limit {
                state.failAfter = nil
                return true
            }
            state.deletions += 1
            return false
        }
        if fail { throw ObjectStoreError("simulated crash") }
        try await base.delete(key)
        state.withLock { $0.deleted.append(key) }
    }

    /// The keys deleted so far, in order (a key deleted twice appears twice).
    var deletedKeys: [String] { state.withLock { $0.deleted } }
    var listings: Int { state.withLock { $0.listings } }

    func listPrefixes(under prefix: String) async throws -> [String] {
        try await base.listPrefixes(under: prefix)
    }
}
