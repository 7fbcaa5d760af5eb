import ArgumentParser
import Foundation
import Rota

/// A user-facing error with a one-line message (exit status 1).
public struct CommandFailure: Error {
    public var message: String
    public init(_ message: String) { self.message = message }
}

/// Runs the command line of the executables `rota`, `rota-examples` and `rota-bench`:
/// exit status 0 on success, 1 for errors (on one line, prefixed with the command's name),
/// 2 for usage errors.
public enum CommandLineRunner {
    public static func main<Root: ParsableCommand>(_ root: Root.Type) async -> Never {
        let name = Root.configuration.commandName ?? "rota"
        do {
            var command = try Root.parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            Foundation.exit(0)
        } catch let error as RotaError {
            FileHandle.standardError.write(Data("\(name): error: \(oneLine(error.description))\n".utf8))
            Foundation.exit(1)
        } catch let error as CommandFailure {
            FileHandle.standardError.write(Data("\(name): error: \(oneLine(error.message))\n".utf8))
            Foundation.exit(1)
        } catch {
            if Root.exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((Root.fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            Root.exit(withError: error)
        }
    }

    /// Error text on one line, for a clear single-line message.
    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
    }
}
