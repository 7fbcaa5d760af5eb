import Foundation

/// A small inline SVG bar chart of the last hour, one bar per minute.
enum Sparkline {
    static let width = 180
    static let height = 32

    /// `values`: 60 counts, oldest first. `cssClass` colours the bars (ok, bad).
    static func svg(_ values: [Int], cssClass: String, label: String) -> HTML {
        let peak = max(values.max() ?? 0, 1)
        let barWidth = Double(width) / Double(max(values.count, 1))
        var bars = ""
        for (index, value) in values.enumerated() where value > 0 {
            let barHeight = max(1, Double(height) * Double(value) / Double(peak))
            bars += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>",
                           Double(index) * barWidth, Double(height) - barHeight, max(barWidth - 0.5, 0.5), barHeight)
        }
        let total = values.reduce(0, +)
        return HTML(markup: "<svg class=\"spark \(cssClass)\" width=\"\(width)\" height=\"\(height)\" "
                    + "viewBox=\"0 0 \(width) \(height)\" role=\"img\"><title>")
            + HTML(text: "\(label): \(total) in the last hour, peak \(peak)/min")
            + HTML(markup: "</title>\(bars)</svg>")
    }

    /// The counts of the last 60 minutes ending at `now`, from per-minute rows.
    static func lastHour(_ points: [(minute: Date, value: Int)], now: Date) -> [Int] {
        let currentMinute = floor(now.timeIntervalSince1970 / 60)
        var values = Array(repeating: 0, count: 60)
        for point in points {
            let index = 59 - Int(currentMinute - floor(point.minute.timeIntervalSince1970 / 60))
            if values.indices.contains(index) { values[index] += point.value }
        }
        return values
    }
}
