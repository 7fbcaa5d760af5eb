import ArgumentParser
import Rota
import RotaCommandLine

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
            ResumeQueueCommand.self, DropQueueCommand.self, ApplyCommand.self, WorkerCommand.self,
            CheckCommand.self, DashboardCommand.self,
        ])

    static func main() async { await CommandLineRunner.main(Self.self) }
}
