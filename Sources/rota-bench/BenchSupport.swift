import Foundation
import Rota

// Helpers of `rota-bench`: child processes, /proc readings, statistics.

/// Clock ticks per second for /proc/PID/stat.
let clockTicksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

/// The path of the running executable.
func currentExecutablePath() -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    if length > 0 { return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
    return CommandLine.arguments[0]
}

/// `name` found in PATH or in the PostgreSQL bin folders.
func findTool(_ name: String) -> String? {
    var folders = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
    if let versions = try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql") {
        folders += versions.sorted { $0.compare($1, options: .numeric) == .orderedDescending }
            .map { "/usr/lib/postgresql/\($0)/bin" }
    }
    for folder in folders where FileManager.default.isExecutableFile(atPath: folder + "/" + name) {
        return folder + "/" + name
    }
    return nil
}

/// Median, min and max of the runs of one figure.
struct Summary: Sendable {
    var values: [Double]
    var median: Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return .nan }
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2]
                                     : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
    var min: Double { values.min() ?? .nan }
    var max: Double { values.max() ?? .nan }
}

func formatNumber(_ value: Double, decimals: Int = 0) -> String {
    guard value.isFinite else { return "-" }
    return String(format: "%.\(decimals)f", value)
}
