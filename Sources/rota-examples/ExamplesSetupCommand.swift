import ArgumentParser
import Foundation
import Logging
import Rota
import RotaCommandLine
import RotaExamples

/// `rota-examples setup`: the one-off, administrator's part of running the examples, so that
/// the replicas can run as an application role with `ROTA_EXAMPLES_APPLY=0`.
struct ExamplesSetupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "setup",
        abstract: "Prepare a database for the examples' workers, then exit.",
        discussion: """
            Creates the examples' tables when missing and applies their definitions (what \
            `worker` does at start unless ROTA_EXAMPLES_APPLY=0); with --migrate it first installs \
            or upgrades the rota schema, with --grant-to it grants a login role what a replica needs \
            (rota_worker, rota_producer, rota_reader and the reports tables). Run it as an \
            administrator (rota_admin or a superuser). Environment: ROTA_EXAMPLES_ACCELERATED=1 \
            (the demo's fast schedules).
            """)
    @OptionGroup var connection: ConnectionOptions
    @Flag(help: "Install or upgrade the rota schema first.") var migrate = false
    @Option(help: "A role to grant what an examples' worker needs (repeatable).") var grantTo: [String] = []

    func run() async throws {
        let logger = Logger(label: "rota.examples.setup")
        let connectionString = connection.connectionString
        try await connection.withClient { client in
            if migrate { try await client.migrate() }
            try await RotaExamples.setUp(connectionString: connectionString, client: client,
                                         accelerated: ProcessInfo.processInfo.environment["ROTA_EXAMPLES_ACCELERATED"] == "1",
                                         logger: logger)
        }
        for role in grantTo {
            try await RotaExamples.grantWorkerPrivileges(to: role, connectionString: connectionString, logger: logger)
        }
    }
}
