import Foundation

/// Reads the schema installer (`sql/install.sql`) the way psql would for Rota's files:
/// `\ir FILE` includes a file (relative to the including file), other backslash lines are
/// psql settings and are skipped, every other line is SQL.
public struct SQLInstaller: Sendable {
    /// The folder holding `install.sql` and `migrations/`.
    public let directory: URL

    /// An installer for the SQL files in `directory`.
    public init(directory: URL) { self.directory = directory }

    /// Finds the `sql/` folder: `$ROTA_SQL_DIR`, else a `sql/install.sql` in the current
    /// directory or above it, beside or above the running executable (e.g. `.build/debug/rota`),
    /// or in the source checkout this library was built from.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SQLInstaller {
        if let configured = environment["ROTA_SQL_DIR"], !configured.isEmpty {
            let url = URL(fileURLWithPath: configured)
            guard FileManager.default.fileExists(atPath: url.appendingPathComponent("install.sql").path) else {
                throw RotaError(.sqlFilesNotFound, "ROTA_SQL_DIR=\(configured) has no install.sql")
            }
            return SQLInstaller(directory: url)
        }
        var starts: [URL] = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        starts.append(executable.deletingLastPathComponent())
        // Sources/Rota/Client/SQLInstaller.swift -> the package root
        starts.append(URL(fileURLWithPath: #filePath).deletingLastPathComponent())
        for start in starts {
            var folder = start.standardizedFileURL
            for _ in 0..<8 {
                let candidate = folder.appendingPathComponent("sql")
                if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("install.sql").path) {
                    return SQLInstaller(directory: candidate)
                }
                let parent = folder.deletingLastPathComponent()
                if parent.path == folder.path { break }
                folder = parent
            }
        }
        throw RotaError(.sqlFilesNotFound,
                        "cannot find sql/install.sql; set ROTA_SQL_DIR to the folder that holds it")
    }

    /// The whole installation script with every `\ir` include expanded and psql lines removed.
    public func script() throws -> String {
        try expand(directory.appendingPathComponent("install.sql"), depth: 0)
    }

    private func expand(_ file: URL, depth: Int) throws -> String {
        guard depth < 16 else { throw RotaError(.sqlFilesNotFound, "\\ir includes nest too deeply at \(file.path)") }
        let text: String
        do {
            text = try String(contentsOf: file, encoding: .utf8)
        } catch {
            throw RotaError(.sqlFilesNotFound, "cannot read \(file.path): \(error.localizedDescription)")
        }
        var output = ""
        output.reserveCapacity(text.utf8.count)
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            guard trimmed.hasPrefix("\\") else {
                output += line
                output += "\n"
                continue
            }
            let words = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if let command = words.first, command == "\\ir" || command == "\\include_relative", words.count >= 2 {
                var name = String(words[1])
                if name.hasPrefix("'"), name.hasSuffix("'"), name.count >= 2 { name = String(name.dropFirst().dropLast()) }
                let included = file.deletingLastPathComponent().appendingPathComponent(name)
                output += try expand(included, depth: depth + 1)
                output += "\n"
            }
            // Any other backslash command is a psql setting (\set, \o, ...): skipped.
        }
        return output
    }
}
