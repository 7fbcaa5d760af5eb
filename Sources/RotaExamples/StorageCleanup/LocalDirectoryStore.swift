import Foundation

/// An ``ObjectStore`` in a folder on disk: a key is a path relative to ``root`` and an
/// object's modification time is the file's mtime. For the demo and tests; file calls are
/// small and synchronous.
public struct LocalDirectoryStore: ObjectStore {
    /// The folder that holds the objects.
    public let root: URL

    /// A store in folder `root` (created when missing).
    public init(root: URL) throws {
        self.root = root.standardizedFileURL
        try FileManager.default.createDirectory(at: self.root, withIntermediateDirectories: true)
    }

    public func list(prefix: String) async throws -> [ObjectInfo] {
        try Self.validate(prefix)
        // Walk the deepest folder the prefix names; the rest of it filters file names.
        let folderPart = prefix.range(of: "/", options: .backwards).map { String(prefix[..<$0.upperBound]) } ?? ""
        let folder = url(of: folderPart)
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue else {
            return []
        }
        let keys: [URLResourceKey] = [.isRegularFileKey, .fileSizeKey, .contentModificationDateKey]
        guard let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: keys) else { return [] }
        var objects: [ObjectInfo] = []
        while let file = walker.nextObject() as? URL {
            let values: URLResourceValues
            do {
                values = try file.resourceValues(forKeys: Set(keys))
            } catch {
                continue  // deleted while we walked: nothing to clean there
            }
            guard values.isRegularFile == true else { continue }
            let key = folderPart + relativePath(of: file, from: folder)
            guard key.hasPrefix(prefix) else { continue }
            objects.append(ObjectInfo(key: key, size: Int64(values.fileSize ?? 0),
                                      modifiedAt: values.contentModificationDate ?? Date(timeIntervalSince1970: 0)))
        }
        return objects.sorted { $0.key < $1.key }
    }

    public func delete(_ key: String) async throws {
        try Self.validate(key)
        guard !key.isEmpty, !key.hasSuffix("/") else { throw ObjectStoreError("not an object key: \(key)") }
        let file = url(of: key)
        do {
            try FileManager.default.removeItem(at: file)
        } catch {
            // Already gone (an earlier attempt deleted it): that is the outcome we want.
            if FileManager.default.fileExists(atPath: file.path) { throw error }
        }
    }

    public func listPrefixes(under prefix: String) async throws -> [String] {
        try Self.validate(prefix)
        guard prefix.isEmpty || prefix.hasSuffix("/") else { throw ObjectStoreError("a folder prefix ends with /: \(prefix)") }
        let folder = url(of: prefix)
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        } catch {
            if !FileManager.default.fileExists(atPath: folder.path) { return [] }
            throw error
        }
        return names.filter { name in
            var isFolder: ObjCBool = false
            return FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path, isDirectory: &isFolder)
                && isFolder.boolValue
        }
        .sorted()
        .map { prefix + $0 + "/" }
    }

    private func url(of key: String) -> URL {
        key.isEmpty ? root : root.appendingPathComponent(key)
    }

    private func relativePath(of file: URL, from folder: URL) -> String {
        let base = folder.standardizedFileURL.resolvingSymlinksInPath().path
        let path = file.standardizedFileURL.resolvingSymlinksInPath().path
        guard path.hasPrefix(base) else { return file.lastPathComponent }
        return String(path.dropFirst(base.count).drop { $0 == "/" })
    }

    /// Keys stay inside the root: no absolute paths and no `..`.
    private static func validate(_ key: String) throws {
        if key.hasPrefix("/") || key.split(separator: "/").contains("..") {
            throw ObjectStoreError("key escapes the store: \(key)")
        }
    }
}
