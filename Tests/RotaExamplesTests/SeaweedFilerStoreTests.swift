import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import RotaExamples
import Synchronization
import XCTest

/// SeaweedFilerStore's requests (paging, folder walk, deletes, URL encoding) against an
/// in-process fake filer served through a URLProtocol: no network.
final class SeaweedFilerStoreTests: XCTestCase {
    func testListsPageByPageWalksFoldersAndDeletes() async throws {
        FakeFiler.reset(files: [
            "/tmp/a/one.bin": "2026-11-26T07:00:00Z",
            "/tmp/a/two.bin": "2026-11-26T07:00:00.5+00:00",
            "/tmp/a/sub/three.bin": "2026-11-26T09:30:00Z",
            "/tmp/a/x&y #1.bin": "2026-11-26T07:00:00Z",
            "/tmp/b/four.bin": "2026-11-26T07:00:00Z",
        ])
        let configuration = URLSessionConfiguration.ephemeral
        configuration.protocolClasses = [FakeFiler.self]
        let store = SeaweedFilerStore(filerURL: URL(string: "http://filer.test:8888")!, pageSize: 2,
                                      session: URLSession(configuration: configuration))

        let prefixes = try await store.listPrefixes(under: "tmp/")
        XCTAssertEqual(prefixes, ["tmp/a/", "tmp/b/"])
        let objects = try await store.list(prefix: "tmp/a/")
        XCTAssertEqual(objects.map(\.key), ["tmp/a/one.bin", "tmp/a/sub/three.bin", "tmp/a/two.bin", "tmp/a/x&y #1.bin"])
        XCTAssertEqual(objects[0].size, 7)
        XCTAssertEqual(objects[0].modifiedAt, instant("2026-11-26T07:00:00Z"))
        XCTAssertTrue(FakeFiler.requests.contains { $0.contains("lastFileName=") }, "listing used more than one page")

        // what a cleanup batch does with them (StorageCleanupTests runs the task itself)
        for object in objects where object.modifiedAt < instant("2026-11-26T09:00:00Z") {
            try await store.delete(object.key)
        }
        XCTAssertEqual(FakeFiler.remaining, ["/tmp/a/sub/three.bin", "/tmp/b/four.bin"])
        XCTAssertTrue(FakeFiler.requests.contains("DELETE /tmp/a/x%26y%20%231.bin"))
        // a missing file: the filer answers 204 (or 404); both are success
        try await store.delete("tmp/a/one.bin")
        let missingFolder = try await store.list(prefix: "nothing/")
        XCTAssertEqual(missingFolder, [])
    }
}

/// A fake SeaweedFS filer: files in memory, listings paged by `limit` and `lastFileName`.
final class FakeFiler: URLProtocol {
    private static let state = Mutex<(files: [String: String], requests: [String])>(([:], []))

    static func reset(files: [String: String]) { state.withLock { $0 = (files, []) } }
    static var requests: [String] { state.withLock { $0.requests } }
    static var remaining: [String] { state.withLock { $0.files.keys.sorted() } }

    override class func canInit(with request: URLRequest) -> Bool { true }
    override class func canonicalRequest(for request: URLRequest) -> URLRequest { request }
    override func stopLoading() {}

    override func startLoading() {
        let url = request.url!
        let components = URLComponents(url: url, resolvingAgainstBaseURL: false)!
        let method = request.httpMethod ?? "GET"
        let (status, body) = FakeFiler.state.withLock { state -> (Int, Data) in
            state.requests.append("\(method) \(components.percentEncodedPath)\(components.percentEncodedQuery.map { "?\($0)" } ?? "")")
            if method == "DELETE" {
                state.files[components.path] = nil
                return (204, Data())
            }
            guard request.value(forHTTPHeaderField: "Accept") == "application/json" else { return (400, Data()) }
            var folder = components.path
            if folder.count > 1, folder.hasSuffix("/") { folder.removeLast() }
            let query = Dictionary(uniqueKeysWithValues: (components.queryItems ?? []).map { ($0.name, $0.value ?? "") })
            let limit = Int(query["limit"] ?? "") ?? 100
            let after = query["lastFileName"] ?? ""
            // the folder's children: files directly in it and the folders on the way to deeper files
            var children: [String: Bool] = [:]  // name -> is folder
            let base = folder == "/" ? "/" : folder + "/"
            for path in state.files.keys where path.hasPrefix(base) {
                let rest = path.dropFirst(base.count)
                if let slash = rest.firstIndex(of: "/") { children[String(rest[..<slash])] = true } else { children[String(rest)] = false }
            }
            if children.isEmpty { return (404, Data()) }
            let names = children.keys.sorted().filter { $0 > after }
            let page = Array(names.prefix(limit))
            let entries: [[String: Any]] = page.map { name in
                let full = base + name
                let isFolder = children[name]!
                return ["FullPath": full, "Mtime": isFolder ? "2026-11-20T00:00:00Z" : state.files[full]!,
                        "Mode": isFolder ? 2_147_484_141 : 432, "FileSize": isFolder ? 0 : 7]
            }
            let answer: [String: Any] = ["Path": folder, "Entries": entries.isEmpty ? NSNull() : entries, "Limit": limit,
                                         "LastFileName": page.last ?? "", "ShouldDisplayLoadMore": names.count > limit,
                                         "EmptyFolder": false]
            return (200, try! JSONSerialization.data(withJSONObject: answer))
        }
        let response = HTTPURLResponse(url: url, statusCode: status, httpVersion: "HTTP/1.1", headerFields: [:])!
        client?.urlProtocol(self, didReceive: response, cacheStoragePolicy: .notAllowed)
        client?.urlProtocol(self, didLoad: body)
        client?.urlProtocolDidFinishLoading(self)
    }
}
