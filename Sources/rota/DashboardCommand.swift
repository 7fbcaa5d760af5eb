import ArgumentParser
import Logging
import Rota
import RotaCommandLine
import RotaObservability
import ServiceLifecycle

/// `rota dashboard`: the read-only web dashboard.
struct DashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Serve the read-only web dashboard (and rota.metrics() at /metrics).",
        discussion: """
            Connect with a role that may only read (rota_reader). Binds 127.0.0.1 unless --host says \
            otherwise. SIGTERM or SIGINT stops it.
            """)
    @OptionGroup var connection: ConnectionOptions
    @Option(help: "The port to listen on.") var port: Int = 8080
    @Option(help: "The address to bind (0.0.0.0: every interface).") var host: String = "127.0.0.1"
    @Option(help: "Seconds between the pages' refreshes.") var refresh: Int = 10

    func validate() throws {
        if !(0...65535).contains(port) { throw ValidationError("--port must be between 0 and 65535 (got \(port))") }
        if refresh < 1 { throw ValidationError("--refresh must be at least 1 (got \(refresh))") }
    }

    func run() async throws {
        let logger = Logger(label: "rota.dashboard")
        let client = RotaClient(connectionString: connection.connectionString, logger: logger)
        let dashboard = RotaDashboard(host: host, port: port, client: client, refreshSeconds: refresh, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [.init(service: dashboard)],
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        await client.close()
    }
}
