import Foundation

/// One stored object.
public struct ObjectInfo: Sendable, Hashable, Codable {
    /// The object's key: a `/`-separated path without a leading `/`, e.g. `tmp/uploads/a.bin`.
    public var key: String
    /// Size in bytes.
    public var size: Int64
    /// When the object was last written; cleanup compares this with its cutoff.
    public var modifiedAt: Date

    public init(key: String, size: Int64, modifiedAt: Date) {
        self.key = key
        self.size = size
        self.modifiedAt = modifiedAt
    }
}

/// The little an object store must do for the storage cleanup example.
///
/// Keys are `/`-separated paths; a prefix that ends with `/` is a folder. Implementations
/// must make ``delete(_:)`` succeed for a key that is already gone, because a cleanup task
/// that crashed after some deletions runs again and deletes the same keys.
public protocol ObjectStore: Sendable {
    /// Every object whose key starts with `prefix`, in any folder depth below it
    /// (an empty array when there is none or the folder does not exist).
    func list(prefix: String) async throws -> [ObjectInfo]
    /// Deletes the object `key`; succeeds when it does not exist.
    func delete(_ key: String) async throws
    /// The folders directly below folder `prefix` (which ends with `/`, or is empty for the
    /// top), each as a prefix ending with `/`, e.g. `tmp/uploads/`.
    func listPrefixes(under prefix: String) async throws -> [String]
}

/// An object store refused a request.
public struct ObjectStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
