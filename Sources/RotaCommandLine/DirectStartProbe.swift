import Foundation
import Rota
import ServiceLifecycle

/// `rota worker --start-task NAME`: once the worker runs, starts one task directly on it
/// (``RotaClient/start(queue:task:payloadJSON:options:)``), prints its id, then waits for
/// its result and prints that. With `--start-repeat` it starts the next task after each
/// result until graceful shutdown, riding out database restarts (a failed start or an
/// interrupted wait is printed and tried again): the soak's producer of direct starts. A
/// diagnostic of direct starts, for trying them out and for the multi-process tests.
struct DirectStartProbe: Service {
    let client: RotaClient
    let queue: String
    let task: String
    let payload: String
    let repeating: Bool

    func run() async throws {
        guard repeating else {
            try await startAndAwait()
            return
        }
        // the worker after this service drains its tasks; the wait in progress just ends
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await startAndAwait()
            }
        }
    }

    private func startAndAwait() async throws {
        let handle: RotaTaskHandle
        while true {
            do {
                handle = try await client.start(queue: queue, task: task, payloadJSON: PostgresJSON(text: payload))
                break
            } catch let error as RotaError where error.code == .workerNotRunning {
                // the worker registers first; until then there is nothing to start on
                try await Task.sleep(for: .milliseconds(20))
            } catch where repeating && !Task.isCancelled {
                say("direct start: start failed: \(error)")
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        say("direct start: task \(handle.id) (started here: \(handle.startedHere))")
        while true {
            do {
                let result = try await client.resultJSON(of: handle.id, timeout: .seconds(3600))
                say("direct start: task \(handle.id) result \(result ?? "null")")
                return
            } catch where repeating && Task.isCancelled {
                return  // graceful shutdown: no outcome to print
            } catch where repeating && !Self.isOutcome(error) {
                say("direct start: task \(handle.id) wait interrupted: \(error)")
                try await Task.sleep(for: .milliseconds(200))
            } catch {
                say("direct start: task \(handle.id) error \(error)")
                return
            }
        }
    }

    /// Whether the wait ended with the task's outcome (or for good), not with a connection problem.
    private static func isOutcome(_ error: any Error) -> Bool {
        guard let error = error as? RotaError else { return false }
        return [.taskFailed, .taskCancelled, .resultTimeout, .unknownTask].contains(error.code)
    }

    /// One line on standard output, written at once (a test may kill the process next).
    private func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
