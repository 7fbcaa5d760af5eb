import ArgumentParser
import RotaCommandLine

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run an executor with the built-in diagnostic handlers noop, latency, sleep and fail.",
        discussion: """
            Handlers: noop (does nothing); latency (returns {"started": unix seconds} read when the \
            handler starts, for rota-bench); sleep ({"ms": n}: sleeps n milliseconds); \
            fail ({"times": n}: fails the first n attempts, then succeeds). \
            SIGTERM or SIGINT shuts down gracefully: no new claims, running tasks get --grace seconds. \
            The example handlers run in `rota-examples worker`.
            """)
    @OptionGroup var options: WorkerOptions

    func run() async throws {
        try await options.run(handlers: DiagnosticHandlers.all)
    }
}
