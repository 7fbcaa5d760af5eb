import Foundation

/// A Swift type that can be made from a column value in PostgreSQL's text output format.
public protocol PostgresDecodable: Sendable {
    /// Decodes the text of a non-NULL value.
    init(postgresText text: String) throws
}

private func decodingError<T>(_ text: String, _ type: T.Type) -> PostgresError {
    PostgresError(.decodingFailed, "cannot decode \(text.debugDescription) as \(T.self)")
}

extension String: PostgresDecodable {
    public init(postgresText text: String) { self = text }
}

extension Int: PostgresDecodable {
    public init(postgresText text: String) throws {
        guard let value = Int(text) else { throw decodingError(text, Int.self) }
        self = value
    }
}

extension Int64: PostgresDecodable {
    public init(postgresText text: String) throws {
        guard let value = Int64(text) else { throw decodingError(text, Int64.self) }
        self = value
    }
}

extension Int32: PostgresDecodable {
    public init(postgresText text: String) throws {
        guard let value = Int32(text) else { throw decodingError(text, Int32.self) }
        self = value
    }
}

extension Bool: PostgresDecodable {
    public init(postgresText text: String) throws {
        switch text {
        case "t", "true": self = true
        case "f", "false": self = false
        default: throw decodingError(text, Bool.self)
        }
    }
}

extension Double: PostgresDecodable {
    public init(postgresText text: String) throws {
        switch text {
        case "NaN": self = .nan
        case "Infinity": self = .infinity
        case "-Infinity": self = -.infinity
        default:
            guard let value = Double(text) else { throw decodingError(text, Double.self) }
            self = value
        }
    }
}

extension Date: PostgresDecodable {
    /// Parses `timestamptz` output in ISO style (the session's `DateStyle`); `infinity` and
    /// `-infinity` are the distant future and past.
    public init(postgresText text: String) throws {
        switch text {
        case "infinity": self = .distantFuture
        case "-infinity": self = .distantPast
        default:
            guard let value = UTCTimestamp.parse(text) else { throw decodingError(text, Date.self) }
            self = value
        }
    }
}

extension PostgresJSON: PostgresDecodable {
    public init(postgresText text: String) { self.init(text: text) }
}

extension Array: PostgresDecodable where Element: PostgresDecodable {
    /// A one-dimensional array of non-NULL elements.
    public init(postgresText text: String) throws {
        self = try PostgresArrayLiteral.decode(text).map { element in
            guard let element else { throw PostgresError(.decodingFailed, "NULL element in \(text) decoded as \([Element].self)") }
            return try Element(postgresText: element)
        }
    }
}
