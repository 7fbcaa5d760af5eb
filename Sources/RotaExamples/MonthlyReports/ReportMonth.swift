import Foundation
import Rota

/// A calendar month in UTC, written `YYYY-MM` (in payloads, keys and results).
public struct ReportMonth: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public let year: Int
    /// 1...12
    public let month: Int

    /// The month `year`-`month`; `month` must be 1...12.
    public init(year: Int, month: Int) {
        precondition((1...12).contains(month), "ReportMonth: month must be 1...12, got \(month)")
        self.year = year
        self.month = month
    }

    /// Parses `YYYY-MM`; nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 4, parts[1].count == 2,
              let year = Int(parts[0]), let month = Int(parts[1]), (1...12).contains(month) else { return nil }
        self.init(year: year, month: month)
    }

    /// The UTC month that contains `date`.
    public init(containing date: Date) {
        let civil = UTCTimestamp.civilDate(of: date)
        self.init(year: civil.year, month: civil.month)
    }

    /// The month a report run at `date` covers: the last complete month before it.
    public static func reported(at date: Date) -> ReportMonth {
        ReportMonth(containing: date).adding(months: -1)
    }

    /// This month moved by `months` (negative: earlier).
    public func adding(months: Int) -> ReportMonth {
        let index = year * 12 + (month - 1) + months
        let newYear = index >= 0 ? index / 12 : (index - 11) / 12
        return ReportMonth(year: newYear, month: index - newYear * 12 + 1)
    }

    /// `YYYY-MM-01`, the value of the `month` column (a SQL `date`).
    public var firstDay: String { "\(description)-01" }

    /// `YYYY-MM`.
    public var description: String {
        let yearText = String(year)
        let padded = yearText.count >= 4 ? yearText : String(repeating: "0", count: 4 - yearText.count) + yearText
        return month < 10 ? "\(padded)-0\(month)" : "\(padded)-\(month)"
    }

    public static func < (lhs: ReportMonth, rhs: ReportMonth) -> Bool {
        (lhs.year, lhs.month) < (rhs.year, rhs.month)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let month = ReportMonth(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "expected a month as YYYY-MM, got \(text)"))
        }
        self = month
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
