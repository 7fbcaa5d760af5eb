import Foundation
import Rota
import RotaExamples
import XCTest

/// Decoding of SeaweedFS filer listings, against a response recorded in the shape the
/// filer's listDirectoryHandler writes (a Go struct of ContextPath, Path, Entries, Limit,
/// LastFileName, ShouldDisplayLoadMore, EmptyFolder; each entry a filer.Entry). No network.
final class SeaweedFilerListingTests: XCTestCase {
    static let sample = #"""
    {
      "ContextPath": "",
      "Path": "/tmp/uploads",
      "Entries": [
        {
          "FullPath": "/tmp/uploads/2026-11",
          "Mtime": "2026-11-20T08:15:00+01:00",
          "Crtime": "2026-11-20T08:15:00+01:00",
          "Mode": 2147484141,
          "Uid": 1000,
          "Gid": 1000,
          "Mime": "",
          "TtlSec": 0,
          "UserName": "",
          "GroupNames": null,
          "SymlinkTarget": "",
          "Md5": null,
          "FileSize": 0,
          "Rdev": 0,
          "Inode": 0,
          "Extended": null,
          "HardLinkId": null,
          "HardLinkCounter": 0,
          "Content": null,
          "Remote": null,
          "Quota": 0
        },
        {
          "FullPath": "/tmp/uploads/a.bin",
          "Mtime": "2026-11-26T09:59:58.123456789Z",
          "Crtime": "2026-11-26T09:59:58Z",
          "Mode": 432,
          "Uid": 0,
          "Gid": 0,
          "Mime": "application/octet-stream",
          "TtlSec": 0,
          "UserName": "",
          "GroupNames": null,
          "SymlinkTarget": "",
          "Md5": "1B2M2Y8AsgTpgAmY7PhCfg==",
          "FileSize": 0,
          "Rdev": 0,
          "Inode": 0,
          "Extended": {"Seaweed-X": "eA=="},
          "chunks": [
            {"file_id": "3,01637037d6", "offset": 0, "size": 4194304, "modified_ts_ns": 1764151198123456789, "e_tag": "x"},
            {"file_id": "4,02a7f3c2e1", "offset": 4194304, "size": 1000, "modified_ts_ns": 1764151198123456789, "e_tag": "y"}
          ],
          "HardLinkId": null,
          "HardLinkCounter": 0,
          "Content": null,
          "Remote": null,
          "Quota": 0
        },
        {
          "FullPath": "/tmp/uploads/b name.txt",
          "Mtime": "2026-11-26T10:30:00-05:00",
          "Crtime": "2026-11-26T10:30:00-05:00",
          "Mode": 420,
          "Uid": 0,
          "Gid": 0,
          "Mime": "text/plain",
          "TtlSec": 0,
          "UserName": "",
          "GroupNames": null,
          "SymlinkTarget": "",
          "Md5": null,
          "FileSize": 11,
          "Rdev": 0,
          "Inode": 0,
          "Extended": null,
          "HardLinkId": null,
          "HardLinkCounter": 0,
          "Content": "aGVsbG8gd29ybGQ=",
          "Remote": null,
          "Quota": 0
        }
      ],
      "Limit": 3,
      "LastFileName": "b name.txt",
      "ShouldDisplayLoadMore": true,
      "EmptyFolder": false
    }
    """#

    func testDecodesEntriesFoldersSizesAndTimes() throws {
        let listing = try SeaweedFilerListing.decode(Data(Self.sample.utf8))
        XCTAssertEqual(listing.path, "/tmp/uploads")
        XCTAssertEqual(listing.lastFileName, "b name.txt")
        XCTAssertTrue(listing.shouldDisplayLoadMore)
        XCTAssertEqual(listing.entries.map(\.fullPath), ["/tmp/uploads/2026-11", "/tmp/uploads/a.bin", "/tmp/uploads/b name.txt"])
        XCTAssertEqual(listing.entries.map(\.isDirectory), [true, false, false])
        XCTAssertEqual(listing.entries[1].size, 4_194_304 + 1000, "a chunked file's size is the end of its last chunk")
        XCTAssertEqual(listing.entries[2].size, 11)
        XCTAssertEqual(listing.entries[0].modifiedAt, instant("2026-11-20T07:15:00Z"))
        XCTAssertEqual(try XCTUnwrap(listing.entries[1].modifiedAt).timeIntervalSince1970,
                       instant("2026-11-26T09:59:58Z").timeIntervalSince1970 + 0.123456789, accuracy: 1e-6)
        XCTAssertEqual(listing.entries[2].modifiedAt, instant("2026-11-26T15:30:00Z"))
    }

    func testAnEmptyFolderHasNullEntries() throws {
        let json = #"{"ContextPath":"","Path":"/tmp/empty","Entries":null,"Limit":100,"LastFileName":"","ShouldDisplayLoadMore":false,"EmptyFolder":true}"#
        let listing = try SeaweedFilerListing.decode(Data(json.utf8))
        XCTAssertEqual(listing.entries, [])
        XCTAssertFalse(listing.shouldDisplayLoadMore)
    }

    func testTimestampsInTheFormsTheFilerAndTheDatabaseWrite() {
        XCTAssertEqual(UTCTimestamp.parse("2026-11-01T03:00:00Z"), Date(timeIntervalSince1970: 1_793_502_000))
        XCTAssertEqual(UTCTimestamp.parse("2026-11-01T04:00:00+01:00"), Date(timeIntervalSince1970: 1_793_502_000))
        XCTAssertEqual(UTCTimestamp.parse("2026-11-01 03:00:00+00"), Date(timeIntervalSince1970: 1_793_502_000))
        XCTAssertNil(UTCTimestamp.parse("2026-11-01T03:00:00"), "an instant needs a zone")
        XCTAssertNil(UTCTimestamp.parse("yesterday"))
        XCTAssertEqual(UTCTimestamp.format(Date(timeIntervalSince1970: 1_793_502_000)), "2026-11-01T03:00:00Z")
        XCTAssertEqual(UTCTimestamp.format(Date(timeIntervalSince1970: 1_793_502_000.25)), "2026-11-01T03:00:00.250Z")
        XCTAssertEqual(UTCTimestamp.format(Date(timeIntervalSince1970: 951_782_400)), "2000-02-29T00:00:00Z")
    }
}
