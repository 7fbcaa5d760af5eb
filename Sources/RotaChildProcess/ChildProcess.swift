import Foundation

/// A child process of the tests and of `rota-bench`: started with `posix_spawnp`, its
/// standard output and error written to a log file, reaped by polling `waitpid(WNOHANG)`
/// (Foundation's `Process.waitUntilExit` can hang inside async code).
public final class ChildProcess: @unchecked Sendable {
    // `exitStatus` is only touched by the one task that owns the child.
    public let pid: pid_t
    /// Where the child's output goes.
    public let logPath: String
    private var exitStatus: Int32?

    /// Starts `arguments[0]` (looked up in `PATH` when it has no slash).
    /// - Parameters:
    ///   - logPath: the output file; default a new file in the temporary folder.
    ///   - environment: the child's environment; default this process's.
    public init(_ arguments: [String], logPath: String? = nil, environment: [String: String]? = nil) throws {
        self.logPath = logPath ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("rota-child-\(UUID().uuidString).log").path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, self.logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let envp = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        // The spawning thread may block signals and the mask is inherited: pgbench -T needs
        // SIGALRM, workers SIGTERM. Start the child with an empty mask and default handlers.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, envp)
        guard result == 0 else { throw ChildProcessError(command: arguments[0], errno: result) }
        self.pid = pid
    }

    /// Sends `signal` unless the child has exited.
    public func signal(_ signal: Int32) { if exitStatus == nil { kill(pid, signal) } }

    /// Whether the child still runs (reaps it when it has exited).
    public var isRunning: Bool {
        if exitStatus != nil { return false }
        var status: Int32 = 0
        let reaped = waitpid(pid, &status, WNOHANG)
        guard reaped == pid else { return reaped == 0 }
        // WIFEXITED / WEXITSTATUS, and 128 + signal for a signalled child, as shells report it.
        exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return false
    }

    /// The exit status (128 + signal when killed), nil while it runs.
    public var status: Int32? { _ = isRunning; return exitStatus }

    /// Waits for the exit: the status, or nil when it still runs at the timeout.
    public func waitForExit(timeout: Duration) async throws -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while isRunning {
            if ContinuousClock.now >= deadline { return nil }
            try await Task.sleep(for: .milliseconds(10))
        }
        return exitStatus
    }

    /// SIGTERM, then SIGKILL when it has not exited after `grace`.
    public func stop(grace: Duration = .seconds(10)) async throws {
        signal(SIGTERM)
        if try await waitForExit(timeout: grace) == nil {
            signal(SIGKILL)
            _ = try await waitForExit(timeout: .seconds(5))
        }
    }

    /// Everything the child wrote so far.
    public var output: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// A field of /proc/PID/status in kB (VmHWM: peak RSS, VmRSS: current RSS).
    public func statusKB(_ field: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Int(line.dropFirst(field.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
        }
        return nil
    }

    /// utime + stime of the child in clock ticks (/proc/PID/stat fields 14 and 15).
    public func cpuTicks() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        // Fields after the command name, which may hold spaces: state is field 3.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
        return user + system
    }

    deinit {
        if isRunning {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }
}

/// A child process could not be started.
public struct ChildProcessError: Error, CustomStringConvertible {
    public let command: String
    public let errno: Int32
    public var description: String { "cannot start \(command): \(String(cString: strerror(errno)))" }
}
