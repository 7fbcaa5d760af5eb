import Foundation
import Rota

/// One page of a SeaweedFS filer folder listing: the JSON answer of
/// `GET /<folder>/?limit=N&lastFileName=<name>` sent with `Accept: application/json`.
///
/// Only the fields the cleanup needs are decoded; the filer sends more (`Crtime`, `Uid`,
/// `Mime`, `Extended`, ...). `Entries` is `null` for an empty folder. Entry fields come from
/// the filer's Go `Entry` (its embedded `FullPath` and `Attr`), so names are capitalised and
/// `Mtime` is Go's RFC 3339 with up to nine fraction digits and the filer's local offset.
public struct SeaweedFilerListing: Sendable, Hashable, Decodable {
    /// The folder listed, without a trailing `/` (empty for the root).
    public var path: String
    public var entries: [Entry]
    /// The name to pass as `lastFileName` for the next page.
    public var lastFileName: String
    /// True when there may be more entries after this page.
    public var shouldDisplayLoadMore: Bool

    /// A file or folder.
    public struct Entry: Sendable, Hashable, Decodable {
        /// Absolute path, e.g. `/tmp/uploads/a.bin`.
        public var fullPath: String
        /// The modification time as sent.
        public var mtime: String
        /// Go `os.FileMode` bits; folders have `os.ModeDir` (1 << 31).
        public var mode: UInt32
        /// The size the filer records; files written in chunks may only have chunk sizes.
        public var fileSize: Int64
        /// The data chunks (`offset`, `size`), when the filer sends them.
        public var chunks: [Chunk]

        /// A piece of a file's content.
        public struct Chunk: Sendable, Hashable, Decodable {
            public var offset: Int64
            public var size: Int64

            enum CodingKeys: String, CodingKey { case offset, size }

            public init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                offset = try container.decodeIfPresent(Int64.self, forKey: .offset) ?? 0
                size = try container.decodeIfPresent(Int64.self, forKey: .size) ?? 0
            }
        }

        /// Go's `os.ModeDir`.
        static let modeDirectory: UInt32 = 1 << 31

        public var isDirectory: Bool { mode & Self.modeDirectory != 0 }

        /// The content size: the recorded size or the end of the last chunk, whichever is larger
        /// (as the filer itself computes it).
        public var size: Int64 { max(fileSize, chunks.map { $0.offset + $0.size }.max() ?? 0) }

        /// The parsed modification time; nil when the filer sent something unreadable.
        public var modifiedAt: Date? { UTCTimestamp.parse(mtime) }

        enum CodingKeys: String, CodingKey {
            case fullPath = "FullPath", mtime = "Mtime", mode = "Mode", fileSize = "FileSize", chunks
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            fullPath = try container.decode(String.self, forKey: .fullPath)
            mtime = try container.decodeIfPresent(String.self, forKey: .mtime) ?? ""
            mode = try container.decodeIfPresent(UInt32.self, forKey: .mode) ?? 0
            fileSize = try container.decodeIfPresent(Int64.self, forKey: .fileSize) ?? 0
            chunks = try container.decodeIfPresent([Chunk].self, forKey: .chunks) ?? []
        }
    }

    enum CodingKeys: String, CodingKey {
        case path = "Path", entries = "Entries", lastFileName = "LastFileName",
             shouldDisplayLoadMore = "ShouldDisplayLoadMore"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        path = try container.decodeIfPresent(String.self, forKey: .path) ?? ""
        entries = try container.decodeIfPresent([Entry].self, forKey: .entries) ?? []
        lastFileName = try container.decodeIfPresent(String.self, forKey: .lastFileName) ?? ""
        shouldDisplayLoadMore = try container.decodeIfPresent(Bool.self, forKey: .shouldDisplayLoadMore) ?? false
    }

    /// Decodes a listing answer.
    public static func decode(_ data: Data) throws -> SeaweedFilerListing {
        try JSONDecoder().decode(SeaweedFilerListing.self, from: data)
    }
}
