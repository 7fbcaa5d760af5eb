import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// An ``ObjectStore`` backed by a SeaweedFS filer's HTTP API.
///
/// Endpoints used (keys map to filer paths: key `tmp/a/b.bin` is `/tmp/a/b.bin`):
/// - `GET /<folder>/?limit=<n>&lastFileName=<name>` with `Accept: application/json`: one page
///   of a folder listing (``SeaweedFilerListing``), sorted by name; the next page starts after
///   the page's `LastFileName`. A missing folder answers 404, read as empty.
/// - `DELETE /<key>`: deletes a file. The filer answers 204 also when it does not exist
///   (404 is accepted as well), so a repeated delete succeeds.
///
/// ``list(prefix:)`` walks sub-folders one listing at a time. Authentication (a JWT in
/// `Authorization`) can be added with ``headers``.
public struct SeaweedFilerStore: ObjectStore {
    /// The filer, e.g. `http://localhost:8888`.
    public let filerURL: URL
    /// Entries per listing request.
    public let pageSize: Int
    /// Extra request headers, e.g. `["Authorization": "Bearer <jwt>"]`.
    public let headers: [String: String]
    let session: URLSession

    public init(filerURL: URL, pageSize: Int = 1000, headers: [String: String] = [:], session: URLSession = .shared) {
        self.filerURL = filerURL
        self.pageSize = max(1, pageSize)
        self.headers = headers
        self.session = session
    }

    public func list(prefix: String) async throws -> [ObjectInfo] {
        let folder = prefix.range(of: "/", options: .backwards).map { String(prefix[..<$0.upperBound]) } ?? ""
        var objects: [ObjectInfo] = []
        var pending = [folder]
        while let current = pending.popLast() {
            try Task.checkCancellation()
            for entry in try await listFolder(current) {
                let key = String(entry.fullPath.drop { $0 == "/" })
                if entry.isDirectory {
                    // descend only where objects with the prefix can be
                    if (key + "/").hasPrefix(prefix) || prefix.hasPrefix(key + "/") { pending.append(key + "/") }
                } else if key.hasPrefix(prefix) {
                    guard let modifiedAt = entry.modifiedAt else {
                        throw ObjectStoreError("SeaweedFS: unreadable Mtime \(entry.mtime) of \(entry.fullPath)")
                    }
                    objects.append(ObjectInfo(key: key, size: entry.size, modifiedAt: modifiedAt))
                }
            }
        }
        return objects.sorted { $0.key < $1.key }
    }

    public func delete(_ key: String) async throws {
        guard !key.isEmpty, !key.hasSuffix("/") else { throw ObjectStoreError("not an object key: \(key)") }
        var request = URLRequest(url: try url(path: key, query: []))
        request.httpMethod = "DELETE"
        let (_, status) = try await send(request)
        guard (200..<300).contains(status) || status == 404 else {
            throw ObjectStoreError("SeaweedFS: DELETE /\(key) answered HTTP \(status)")
        }
    }

    public func listPrefixes(under prefix: String) async throws -> [String] {
        guard prefix.isEmpty || prefix.hasSuffix("/") else { throw ObjectStoreError("a folder prefix ends with /: \(prefix)") }
        return try await listFolder(prefix)
            .filter(\.isDirectory)
            .map { String($0.fullPath.drop { $0 == "/" }) + "/" }
            .sorted()
    }

    /// Every entry of one folder, page by page.
    func listFolder(_ folder: String) async throws -> [SeaweedFilerListing.Entry] {
        var entries: [SeaweedFilerListing.Entry] = []
        var lastFileName = ""
        while true {
            var query = [("limit", String(pageSize))]
            if !lastFileName.isEmpty { query.append(("lastFileName", lastFileName)) }
            var request = URLRequest(url: try url(path: folder, query: query))
            request.httpMethod = "GET"
            request.setValue("application/json", forHTTPHeaderField: "Accept")
            let (data, status) = try await send(request)
            if status == 404 { return entries }
            guard status == 200 else { throw ObjectStoreError("SeaweedFS: GET /\(folder) answered HTTP \(status)") }
            let page = try SeaweedFilerListing.decode(data)
            entries += page.entries
            guard page.shouldDisplayLoadMore, !page.entries.isEmpty, page.lastFileName != lastFileName else { return entries }
            lastFileName = page.lastFileName
        }
    }

    private func send(_ request: URLRequest) async throws -> (Data, Int) {
        var request = request
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (data, response) = try await session.data(for: request)
        guard let http = response as? HTTPURLResponse else { throw ObjectStoreError("SeaweedFS: not an HTTP response") }
        return (data, http.statusCode)
    }

    /// `<filer>/<path>` with each path segment and query value percent-encoded on its own,
    /// so names with `?`, `#`, `&` or spaces reach the filer intact.
    func url(path: String, query: [(String, String)]) throws -> URL {
        var text = filerURL.absoluteString
        while text.hasSuffix("/") { text.removeLast() }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).map { Self.encode(String($0)) }
        text += "/" + segments.joined(separator: "/")
        if !query.isEmpty {
            text += "?" + query.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&")
        }
        guard let url = URL(string: text) else { throw ObjectStoreError("SeaweedFS: cannot build a URL for \(path)") }
        return url
    }

    private static let unreserved = CharacterSet(charactersIn:
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    private static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }
}
