import Foundation

/// HTML text that is safe to emit as is: built only from escaped values and literal markup.
struct HTML: Sendable, CustomStringConvertible {
    let description: String

    /// Literal markup written in this module (never user or database data).
    init(markup: String) { description = markup }

    /// A value from the database or the request, escaped.
    init(text: String) { description = HTML.escape(text) }

    static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    static func + (lhs: HTML, rhs: HTML) -> HTML { HTML(markup: lhs.description + rhs.description) }

    static func joined(_ parts: [HTML]) -> HTML { HTML(markup: parts.map(\.description).joined()) }

    /// A table with a header row; cells are already HTML.
    static func table(_ header: [String], _ rows: [[HTML]], empty: String) -> HTML {
        guard !rows.isEmpty else { return HTML(markup: "<p class=\"empty\">") + HTML(text: empty) + HTML(markup: "</p>") }
        let head = header.map { "<th>\(escape($0))</th>" }.joined()
        let body = rows.map { "<tr>" + $0.map { "<td>\($0)</td>" }.joined() + "</tr>" }.joined(separator: "\n")
        return HTML(markup: "<table><thead><tr>\(head)</tr></thead><tbody>\n\(body)\n</tbody></table>")
    }

    /// A link to a path of the dashboard (the path is escaped too).
    static func link(_ path: String, _ text: String) -> HTML {
        HTML(markup: "<a href=\"\(escape(path))\">\(escape(text))</a>")
    }

    /// A query string value, percent-encoded.
    static func queryValue(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-_.~:")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}

/// Dates and durations as the dashboard shows them.
enum Display {
    static func date(_ date: Date?) -> String {
        guard let date else { return "-" }
        return date.formatted(Date.ISO8601FormatStyle(timeZone: .gmt)).replacingOccurrences(of: "T", with: " ")
    }

    static func seconds(_ seconds: Double?) -> String {
        guard let seconds else { return "-" }
        if seconds < 1 { return String(format: "%.0f ms", seconds * 1000) }
        if seconds < 120 { return String(format: "%.1f s", seconds) }
        if seconds < 7200 { return String(format: "%.0f min", seconds / 60) }
        return String(format: "%.1f h", seconds / 3600)
    }

    static func duration(from start: Date?, to end: Date?) -> String {
        guard let start, let end else { return "-" }
        return seconds(end.timeIntervalSince(start))
    }
}
