import Foundation

/// A Swift value that can be sent to PostgreSQL as a bound parameter in text format.
///
/// Values are never spliced into SQL text: each one travels as a separate parameter.
/// `nil` (see the `Optional` conformance) is SQL `NULL`.
public protocol PostgresBindable: Sendable {
    /// The value in PostgreSQL's text input format, or `nil` for SQL `NULL`.
    var postgresText: String? { get }
}

extension String: PostgresBindable {
    public var postgresText: String? { self }
}

extension Int: PostgresBindable {
    public var postgresText: String? { String(self) }
}

extension Int64: PostgresBindable {
    public var postgresText: String? { String(self) }
}

extension Int32: PostgresBindable {
    public var postgresText: String? { String(self) }
}

extension Bool: PostgresBindable {
    public var postgresText: String? { self ? "true" : "false" }
}

extension Double: PostgresBindable {
    public var postgresText: String? {
        if isNaN { return "NaN" }
        if isInfinite { return self > 0 ? "Infinity" : "-Infinity" }
        return "\(self)"
    }
}

extension Date: PostgresBindable {
    /// ISO 8601 in UTC with microseconds, which `timestamptz` accepts exactly.
    public var postgresText: String? { UTCTimestamp.formatMicroseconds(self) }
}

extension Optional: PostgresBindable where Wrapped: PostgresBindable {
    public var postgresText: String? {
        switch self {
        case .none: return nil
        case .some(let value): return value.postgresText
        }
    }
}

extension Array: PostgresBindable where Element: PostgresBindable {
    /// A PostgreSQL array literal: every element quoted and escaped, `NULL` for nil.
    public var postgresText: String? {
        // A closure, not `\.postgresText`: a key path over the generic Element is made at
        // run time on every call (it showed in the worker's profile, per completion batch).
        PostgresArrayLiteral.encode(map { $0.postgresText })
    }
}

/// A JSON document bound as text; cast the parameter to `jsonb` in SQL.
public struct PostgresJSON: PostgresBindable, Hashable {
    /// The JSON text.
    public var text: String
    /// Wraps JSON text as is (the server validates it).
    public init(text: String) { self.text = text }
    /// Encodes `value` with `JSONEncoder`.
    public init<T: Encodable>(encoding value: T, encoder: JSONEncoder = JSONEncoder()) throws {
        do {
            let data = try encoder.encode(value)
            self.text = String(decoding: data, as: UTF8.self)
        } catch {
            throw PostgresError(.encodingFailed, "cannot encode \(T.self) as JSON: \(error)")
        }
    }
    public var postgresText: String? { text }
}

/// A length of time bound as a PostgreSQL `interval` (exact to the microsecond).
public struct PostgresInterval: PostgresBindable, Hashable {
    /// The length in microseconds.
    public var microseconds: Int64
    /// An interval of `duration`.
    public init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self.microseconds = seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    }
    /// An interval of `seconds`.
    public init(seconds: Double) { self.microseconds = Int64((seconds * 1_000_000).rounded()) }
    public var postgresText: String? { "\(microseconds) microseconds" }
}

enum PostgresArrayLiteral {
    /// `{"a","b",NULL}` with backslash escapes for quotes and backslashes.
    static func encode(_ elements: [String?]) -> String {
        // On UTF-8 bytes: `"` and `\` are ASCII, and no byte of a multi-byte sequence is.
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        var out: [UInt8] = []
        out.reserveCapacity(2 + elements.reduce(0) { $0 + ($1?.utf8.count ?? 4) + 3 })
        out.append(UInt8(ascii: "{"))
        for (index, element) in elements.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            guard let element else {
                out.append(contentsOf: "NULL".utf8)
                continue
            }
            out.append(quote)
            for byte in element.utf8 {
                if byte == quote || byte == backslash { out.append(backslash) }
                out.append(byte)
            }
            out.append(quote)
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses a one-dimensional array in PostgreSQL's text output format.
    static func decode(_ text: String) throws -> [String?] {
        var chars = Substring(text)
        // An array with explicit bounds starts with "[1:2]="; skip it.
        if chars.first == "[", let equals = chars.firstIndex(of: "=") { chars = chars[chars.index(after: equals)...] }
        guard chars.first == "{", chars.last == "}" else {
            throw PostgresError(.decodingFailed, "not an array literal: \(text)")
        }
        chars = chars.dropFirst().dropLast()
        var result: [String?] = []
        if chars.isEmpty { return result }
        var index = chars.startIndex
        while index <= chars.endIndex {
            if index < chars.endIndex, chars[index] == "\"" {
                var element = ""
                index = chars.index(after: index)
                while index < chars.endIndex, chars[index] != "\"" {
                    if chars[index] == "\\" { index = chars.index(after: index) }
                    guard index < chars.endIndex else { break }
                    element.append(chars[index])
                    index = chars.index(after: index)
                }
                result.append(element)
                index = index < chars.endIndex ? chars.index(after: index) : index  // closing quote
            } else {
                let end = chars[index...].firstIndex(of: ",") ?? chars.endIndex
                let raw = String(chars[index..<end])
                result.append(raw == "NULL" ? nil : raw)
                index = end
            }
            if index >= chars.endIndex { break }
            index = chars.index(after: index)  // the comma
        }
        return result
    }
}
