import Foundation

/// The rows a statement returned, decoded to text on the connection's thread.
public struct PostgresRows: Sendable, RandomAccessCollection {
    /// The column names, in order.
    public let columns: [String]
    let columnIndex: [String: Int]
    let values: [[String?]]
    /// The command tag, e.g. `INSERT 0 1`.
    public let commandTag: String

    init(columns: [String], values: [[String?]], commandTag: String) {
        self.columns = columns
        var index: [String: Int] = [:]
        for (position, name) in columns.enumerated() where index[name] == nil { index[name] = position }
        self.columnIndex = index
        self.values = values
        self.commandTag = commandTag
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { values.count }
    public subscript(position: Int) -> PostgresRow {
        PostgresRow(columnIndex: columnIndex, values: values[position])
    }
}

/// One row: column values by name or position, decoded on demand.
public struct PostgresRow: Sendable {
    let columnIndex: [String: Int]
    /// The raw text of each column, `nil` for SQL `NULL`.
    public let values: [String?]

    private func position(of column: String) throws -> Int {
        guard let position = columnIndex[column] else {
            throw PostgresError(.decodingFailed, "no column named \(column.debugDescription) in the result")
        }
        return position
    }

    /// The raw text of `column`, `nil` for SQL `NULL`.
    public func text(_ column: String) throws -> String? { values[try position(of: column)] }

    /// Decodes a non-NULL column; NULL is a ``PostgresError/Code/decodingFailed`` error.
    public func decode<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        guard let text = try text(column) else {
            throw PostgresError(.decodingFailed, "column \(column.debugDescription) is NULL, expected \(T.self)")
        }
        do {
            return try T(postgresText: text)
        } catch var error as PostgresError {
            error.message += " (column \(column.debugDescription))"
            throw error
        }
    }

    /// Decodes a column that may be NULL.
    public func decode<T: PostgresDecodable>(_ column: String, as type: T?.Type) throws -> T? {
        guard try text(column) != nil else { return nil }
        return try decode(column, as: T.self)
    }

    /// Decodes the column at `position` (0-based); NULL is an error.
    public func decode<T: PostgresDecodable>(at position: Int, as type: T.Type = T.self) throws -> T {
        guard position < values.count, let text = values[position] else {
            throw PostgresError(.decodingFailed, "column \(position) is missing or NULL, expected \(T.self)")
        }
        return try T(postgresText: text)
    }

    /// Decodes a JSON (`json`/`jsonb`) column with `JSONDecoder`; `nil` when NULL.
    public func decodeJSON<T: Decodable>(_ column: String, as type: T.Type = T.self,
                                         decoder: JSONDecoder = JSONDecoder()) throws -> T? {
        guard let text = try text(column) else { return nil }
        do {
            return try decoder.decode(T.self, from: Data(text.utf8))
        } catch {
            throw PostgresError(.decodingFailed, "column \(column.debugDescription): cannot decode JSON as \(T.self): \(error)")
        }
    }
}

extension PostgresRow {
    /// The column names of this row, in order.
    public var columns: [String] {
        columnIndex.sorted { $0.value < $1.value }.map(\.key)
    }

    /// Whether the result has a column named `column`.
    public func has(_ column: String) -> Bool { columnIndex[column] != nil }

    /// Decodes `column` when the result has it and it is not NULL, else `nil`: for reading
    /// tables and views whose columns may grow or differ between schema versions.
    public func decodeIfPresent<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T? {
        guard has(column) else { return nil }
        return try decode(column, as: T?.self)
    }
}
