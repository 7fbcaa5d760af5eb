import ArgumentParser
import Foundation
import Rota
import RotaCommandLine
import RotaExamples

/// `rota-examples`: a worker that runs Rota's two examples (monthly reports, storage cleanup).
@main
struct ExamplesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rota-examples",
        abstract: "Run the examples of Rota (examples/): monthly reports and storage cleanup.",
        version: RotaVersion.current,
        subcommands: [ExamplesWorkerCommand.self, ExamplesSetupCommand.self])

    static func main() async { await CommandLineRunner.main(Self.self) }
}

struct ExamplesWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run an executor with the example handlers (and the diagnostic ones of `rota worker`).",
        discussion: """
            At start it creates the examples' tables when missing, applies their definitions \
            (queues reports and cleanup, schedules monthly-reports and storage-cleanup) and adds \
            their queues to --queues. Environment: ROTA_EXAMPLES_ACCELERATED=1 (the demo's fast \
            schedules), ROTA_EXAMPLES_SEAWEED_FILER=http://host:8888 or ROTA_EXAMPLES_STORAGE_DIR \
            (default .rota/demo-storage), ROTA_EXAMPLES_APPLY=0 (someone else applies the definitions).
            """)
    @OptionGroup var options: WorkerOptions

    func run() async throws {
        let connectionString = options.connection.connectionString
        try await options.run(handlers: DiagnosticHandlers.all) { handlers, queues, logger in
            try await RotaExamples.prepareWorker(connectionString: connectionString,
                                                 environment: ProcessInfo.processInfo.environment,
                                                 handlers: &handlers, queues: &queues, logger: logger)
        }
    }
}
