import ArgumentParser
import Foundation
import Rota

/// `rota`: install the schema, inspect and manage queues and tasks, run a worker.
@main
struct RotaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rota",
        abstract: "Rota: a Postgres-native durable queue and cron.",
        discussion: """
            Every command connects with --database-url, else $DATABASE_URL, else libpq's defaults \
            (PGHOST, PGDATABASE, ...). Exit status: 0 success, 1 error, 2 usage error.
            """,
        version: RotaVersion.current,
        subcommands: [
            MigrateCommand.self, StatusCommand.self, TasksCommand.self, EnqueueCommand.self,
            CancelCommand.self, RetryCommand.self, DefineQueueCommand.self, PauseQueueCommand.self,
            ResumeQueueCommand.self, DropQueueCommand.self, ApplyCommand.self, WorkerCommand.self, BenchCommand.self,
        ])

    /// Runs the command line, with exit codes 1 for errors and 2 for usage errors.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as RotaError {
            FileHandle.standardError.write(Data("rota: error: \(oneLine(error.description))\n".utf8))
            Foundation.exit(1)
        } catch let error as CommandFailure {
            FileHandle.standardError.write(Data("rota: error: \(oneLine(error.message))\n".utf8))
            Foundation.exit(1)
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}

/// A user-facing error with a one-line message (exit status 1).
struct CommandFailure: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// Error text on one line, for a clear single-line message.
func oneLine(_ text: String) -> String {
    text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
}
