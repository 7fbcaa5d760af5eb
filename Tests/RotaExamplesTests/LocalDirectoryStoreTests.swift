import Foundation
import RotaExamples
import XCTest

final class LocalDirectoryStoreTests: XCTestCase {
    func testListDeleteAndPrefixes() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let old = instant("2026-11-26T08:00:00Z")
        try folder.write("tmp/a/one.bin", bytes: 3, modifiedAt: old)
        try folder.write("tmp/a/sub/two.bin", bytes: 5, modifiedAt: old)
        try folder.write("tmp/ab/three.bin", modifiedAt: old)
        try folder.write("keep/four.bin", modifiedAt: old)
        let store = try LocalDirectoryStore(root: folder.url)

        let listed = try await store.list(prefix: "tmp/a/")
        XCTAssertEqual(listed.map(\.key), ["tmp/a/one.bin", "tmp/a/sub/two.bin"], "only below the folder, at any depth")
        XCTAssertEqual(listed.map(\.size), [3, 5])
        XCTAssertEqual(listed[0].modifiedAt.timeIntervalSince1970, old.timeIntervalSince1970, accuracy: 1)

        let byName = try await store.list(prefix: "tmp/a")
        XCTAssertEqual(byName.map(\.key), ["tmp/a/one.bin", "tmp/a/sub/two.bin", "tmp/ab/three.bin"],
                       "a prefix that is not a folder matches key prefixes")
        let missing = try await store.list(prefix: "nothing/here/")
        XCTAssertEqual(missing, [])

        let top = try await store.listPrefixes(under: "")
        XCTAssertEqual(top, ["keep/", "tmp/"])
        let temporary = try await store.listPrefixes(under: "tmp/")
        XCTAssertEqual(temporary, ["tmp/a/", "tmp/ab/"])
        let none = try await store.listPrefixes(under: "absent/")
        XCTAssertEqual(none, [])

        try await store.delete("tmp/a/one.bin")
        XCTAssertFalse(folder.exists("tmp/a/one.bin"))
        // Deleting it again (a retried cleanup) succeeds.
        try await store.delete("tmp/a/one.bin")
        try await store.delete("tmp/never/was.bin")
        let remaining = try await store.list(prefix: "tmp/a/")
        XCTAssertEqual(remaining.map(\.key), ["tmp/a/sub/two.bin"])
    }

    func testKeysCannotEscapeTheRoot() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let store = try LocalDirectoryStore(root: folder.url.appendingPathComponent("store"))
        for key in ["../outside.bin", "/etc/passwd", "tmp/../../x"] {
            do {
                try await store.delete(key)
                XCTFail("\(key) must be rejected")
            } catch is ObjectStoreError {}
        }
        do {
            _ = try await store.list(prefix: "../")
            XCTFail("listing outside the root must be rejected")
        } catch is ObjectStoreError {}
    }
}
