import Foundation
import Rota
import ServiceLifecycle

/// `rota worker --start-task NAME`: once the worker runs, starts one task directly on it
/// (``RotaClient/start(queue:task:payloadJSON:options:)``), prints its id, then waits for
/// its result and prints that. A diagnostic of direct starts, for trying them out and for
/// the multi-process tests.
struct DirectStartProbe: Service {
    let client: RotaClient
    let queue: String
    let task: String
    let payload: String

    func run() async throws {
        let handle: RotaTaskHandle
        while true {
            do {
                handle = try await client.start(queue: queue, task: task, payloadJSON: PostgresJSON(text: payload))
                break
            } catch let error as RotaError where error.code == .workerNotRunning {
                // the worker registers first; until then there is nothing to start on
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        say("direct start: task \(handle.id) (started here: \(handle.startedHere))")
        do {
            let result = try await client.resultJSON(of: handle.id, timeout: .seconds(3600))
            say("direct start: task \(handle.id) result \(result ?? "null")")
        } catch {
            say("direct start: task \(handle.id) error \(error)")
        }
    }

    /// One line on standard output, written at once (a test may kill the process next).
    private func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
