extension StorageCleanup {
    /// The payload of `cleanup.scan`: the schedule's payload plus what each fire adds.
    public struct ScanPayload: Sendable, Hashable, Codable {
        /// Added by the fire: the schedule's name.
        public var schedule: String?
        /// Added by the fire: its instant in ISO 8601 UTC; the cutoff is this minus the max age.
        public var scheduledAt: String?
        /// The folder whose sub-folders are cleaned, e.g. `tmp/` (the default).
        public var root: String?
        /// Objects older than this many seconds at the fire are deleted (default 3600).
        public var maxAgeSeconds: Int?

        public init(schedule: String? = nil, scheduledAt: String? = nil, root: String? = nil, maxAgeSeconds: Int? = nil) {
            self.schedule = schedule
            self.scheduledAt = scheduledAt
            self.root = root
            self.maxAgeSeconds = maxAgeSeconds
        }

        enum CodingKeys: String, CodingKey {
            case schedule, root
            case scheduledAt = "scheduled_at", maxAgeSeconds = "max_age_seconds"
        }
    }

    /// The result of `cleanup.scan`.
    public struct ScanSummary: Sendable, Hashable, Codable {
        public var root: String
        /// The cutoff every `cleanup.prefix` task of this scan uses, ISO 8601 UTC.
        public var cutoff: String
        public var prefixes: [String]

        public init(root: String, cutoff: String, prefixes: [String]) {
            self.root = root
            self.cutoff = cutoff
            self.prefixes = prefixes
        }
    }

    /// The payload of `cleanup.prefix`. The cutoff travels in the payload (rather than being
    /// computed when the task runs) so every attempt deletes by the same rule.
    public struct PrefixPayload: Sendable, Hashable, Codable {
        public var prefix: String
        /// ISO 8601 UTC: objects modified before this are deleted.
        public var cutoff: String

        public init(prefix: String, cutoff: String) {
            self.prefix = prefix
            self.cutoff = cutoff
        }
    }

    /// One batch of `cleanup.prefix`: the output of its step `batch-<n>`.
    public struct BatchSummary: Sendable, Hashable, Codable {
        /// The last key the batch examined, where the next batch starts; nil for the batch
        /// that found nothing left, the last.
        public var lastKey: String?
        public var deleted: Int
        public var deletedBytes: Int64
        public var kept: Int

        enum CodingKeys: String, CodingKey {
            case deleted, kept
            case lastKey = "last_key", deletedBytes = "deleted_bytes"
        }
    }

    /// The result of `cleanup.prefix`: the sums of its batches.
    public struct PrefixSummary: Sendable, Hashable, Codable {
        public var prefix: String
        public var cutoff: String
        /// Objects deleted by the task's recorded batches (an object deleted by a batch that a
        /// crash cut short is deleted again by its rerun, and counted once if still there).
        public var deleted: Int
        public var deletedBytes: Int64
        /// Objects younger than the cutoff, left in place.
        public var kept: Int
        /// The batches that examined objects.
        public var batches: Int

        public init(prefix: String, cutoff: String, deleted: Int, deletedBytes: Int64, kept: Int, batches: Int) {
            self.prefix = prefix
            self.cutoff = cutoff
            self.deleted = deleted
            self.deletedBytes = deletedBytes
            self.kept = kept
            self.batches = batches
        }

        mutating func add(_ batch: BatchSummary) {
            deleted += batch.deleted
            deletedBytes += batch.deletedBytes
            kept += batch.kept
            batches += 1
        }

        enum CodingKeys: String, CodingKey {
            case prefix, cutoff, deleted, kept, batches
            case deletedBytes = "deleted_bytes"
        }
    }
}
