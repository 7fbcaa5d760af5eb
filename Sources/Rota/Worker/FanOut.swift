import Foundation

/// Enqueues the child tasks of a running task (a fan-out) so that running the parent again
/// (a retry after a crash halfway through, or a second replica picking it up after a lost
/// lease) creates no child twice.
///
/// Every child names a key of its own. Its task key is derived from the parent: the
/// parent's key when it has one, else `task:<parent id>`, then `/`, then the child's key.
/// A schedule fire's key `schedule:<name>:<fire_at>` becomes `fire:<name>:<fire_at>`,
/// because keys starting with `schedule:` are the scheduler's own (`rota.enqueue_many`
/// refuses them). Both parts are the same on every
/// attempt of the parent, and `rota.enqueue_many` returns the existing task for a key that
/// is already in the queue, so a retried fan-out finds the children it made before and
/// makes only the missing ones. Children get `parent_id` = the parent's id.
///
/// Children are written in batches of ``batchSize``, one `rota.enqueue_many` statement
/// per batch, each its own transaction: a crash loses at most the batch in flight, which the
/// retry writes again.
///
/// ```swift
/// handlers.register("cleanup.scan") { (scan: Scan, context) in
///     let fanOut = context.fanOut(using: client)
///     let prefixes = try await store.listPrefixes(under: "tmp/")
///     try await fanOut.enqueue(queue: "cleanup", task: "cleanup.prefix",
///                              children: prefixes.map { FanOut.Child(key: $0, payload: Prefix(prefix: $0)) })
/// }
/// ```
public struct FanOut: Sendable {
    /// One child task: its key (unique among the children of one parent) and its payload.
    public struct Child<Payload: Encodable & Sendable>: Sendable {
        /// The child's own key; the task key is ``FanOut/taskKey(for:scope:)`` of it.
        public var key: String
        /// The child's payload, encoded as a JSON object.
        public var payload: Payload

        /// A child with `key` and `payload`.
        public init(key: String, payload: Payload) {
            self.key = key
            self.payload = payload
        }
    }

    /// How a child's key becomes its task key.
    public enum KeyScope: Sendable, Hashable {
        /// `<parent scope>/<child key>`: unique per parent run, the same on every attempt of it.
        case parent
        /// The child key as given, for work that must happen once whatever parent asks for it
        /// (for example `report:<tenant>:<month>`, shared by every fire of a schedule).
        case global
    }

    /// Longest task key the database accepts (`rota.tasks.key`).
    public static let maximumKeyLength = 512

    /// The client that runs the `rota.enqueue_many` statements.
    public let client: RotaClient
    /// The parent task's id, stored as each child's `parent_id`.
    public let parentID: Int64
    /// The parent's key (a fire's with `fire:` for `schedule:`), or `task:<parent id>` when it
    /// has none: the first part of child keys.
    public let parentScope: String
    /// Most children per `rota.enqueue_many` statement.
    public let batchSize: Int

    /// A fan-out from parent task `parentID` (an existing task: `rota.enqueue_many` checks it)
    /// whose idempotency key is `parentKey` (nil: none).
    public init(client: RotaClient, parentID: Int64, parentKey: String?, batchSize: Int = 1000) {
        precondition(batchSize >= 1, "FanOut.batchSize must be at least 1")
        self.client = client
        self.parentID = parentID
        self.parentScope = Self.parentScope(parentID: parentID, parentKey: parentKey)
        self.batchSize = batchSize
    }

    /// The first part of the task keys of a parent's children: the parent's key (a fire's
    /// with `fire:` for `schedule:`), or `task:<parent id>` when it has none.
    static func parentScope(parentID: Int64, parentKey: String?) -> String {
        parentKey.flatMap { key in
            key.isEmpty ? nil : key.hasPrefix("schedule:") ? "fire:" + key.dropFirst("schedule:".count) : key
        } ?? "task:\(parentID)"
    }

    /// A fan-out from the task a handler runs.
    public init(client: RotaClient, parent: TaskContext, batchSize: Int = 1000) {
        self.init(client: client, parentID: parent.taskID, parentKey: parent.key, batchSize: batchSize)
    }

    /// The task key of a child with key `childKey`.
    public func taskKey(for childKey: String, scope: KeyScope = .parent) -> String {
        switch scope {
        case .parent: "\(parentScope)/\(childKey)"
        case .global: childKey
        }
    }

    /// Enqueues `children` as tasks `task` in `queue` and returns their ids in input order
    /// (an existing task's id for a child enqueued before).
    ///
    /// Checks for cancellation between batches, so a cancelled parent stops early; its
    /// retry continues where it stopped. ``EnqueueOptions/key`` and
    /// ``EnqueueOptions/parentID`` of `options` are ignored (the fan-out sets them).
    /// - Throws: ``RotaError/Code/invalidArgument`` when two children share a key or a task
    ///   key is empty or longer than ``maximumKeyLength``, before anything is enqueued.
    @discardableResult
    public func enqueue<Payload: Encodable & Sendable>(
        queue: String, task: String, children: [Child<Payload>], scope: KeyScope = .parent,
        options: EnqueueOptions = EnqueueOptions()
    ) async throws -> [Int64] {
        let keys = children.map { taskKey(for: $0.key, scope: scope) }
        try validate(keys)
        var options = options
        options.key = nil
        options.parentID = parentID
        var ids: [Int64] = []
        ids.reserveCapacity(children.count)
        var start = 0
        while start < children.count {
            try Task.checkCancellation()
            let end = min(start + batchSize, children.count)
            let batchIDs = try await client.enqueueMany(
                queue: queue, task: task,
                payloads: children[start..<end].map(\.payload),
                keys: keys[start..<end].map { Optional($0) }, options: options)
            ids += batchIDs
            start = end
        }
        return ids
    }

    /// Rejects keys the database would reject halfway through, and duplicates, which would
    /// silently collapse two children into one task.
    private func validate(_ keys: [String]) throws {
        var seen = Set<String>()
        seen.reserveCapacity(keys.count)
        for key in keys {
            // char_length in the database counts code points, as unicodeScalars does
            if key.isEmpty || key.unicodeScalars.count > Self.maximumKeyLength {
                throw RotaError(.invalidArgument,
                                "fan-out: a task key must be 1 to \(Self.maximumKeyLength) characters, got \(key.unicodeScalars.count): \(key.prefix(60))")
            }
            if !seen.insert(key).inserted {
                throw RotaError(.invalidArgument, "fan-out: two children have the task key \(key)")
            }
        }
    }
}

extension TaskContext {
    /// A ``FanOut`` from this task: children get keys derived from this task's key (or id)
    /// and this task as their parent.
    public func fanOut(using client: RotaClient, batchSize: Int = 1000) -> FanOut {
        FanOut(client: client, parent: self, batchSize: batchSize)
    }
}
