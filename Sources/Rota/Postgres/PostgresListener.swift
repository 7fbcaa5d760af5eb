import CLibPQ
import Foundation
import Logging
import Synchronization

/// A notification received on a `LISTEN` channel.
public struct PostgresNotification: Sendable, Hashable {
    /// The channel name.
    public var channel: String
    /// The payload (empty when none was given).
    public var payload: String
    /// The server process that sent it.
    public var senderPID: Int32
}

/// What a ``PostgresListener`` delivers.
public enum PostgresListenerEvent: Sendable, Hashable {
    /// The listener (re)connected and is listening. Notifications sent while it was
    /// disconnected are lost, so a consumer should look for work it may have missed.
    case listening
    /// A notification arrived.
    case notification(PostgresNotification)
}

/// A dedicated connection that `LISTEN`s on channels and delivers notifications as an
/// `AsyncStream`, without blocking Swift's cooperative pool.
///
/// Its own thread waits in `poll()` on the connection's socket and on a wake-up pipe,
/// reads with `PQconsumeInput`/`PQnotifies`, and reconnects with backoff when the
/// connection breaks. ``shutdown()`` (or ending the stream) wakes the thread and stops it.
public final class PostgresListener: Sendable {
    /// The events: ``PostgresListenerEvent/listening`` after each (re)connection, then notifications.
    public let events: AsyncStream<PostgresListenerEvent>
    private let wakePipe: (read: Int32, write: Int32)
    private let stopped = Mutex(false)

    /// Starts listening on `channels` over a new connection made from `connectionString`.
    public convenience init(connectionString: String, channels: [String], backoff: Backoff = .standard,
                            logger: Logger = Logger(label: "rota.listener")) {
        let (events, continuation) = AsyncStream.makeStream(of: PostgresListenerEvent.self,
                                                            bufferingPolicy: .bufferingNewest(1024))
        self.init(connectionString: connectionString, channels: channels, backoff: backoff, logger: logger,
                  events: events, deliver: { continuation.yield($0) }, finished: { continuation.finish() })
        continuation.onTermination = { [weak self] _ in self?.shutdown() }
    }

    /// Starts listening and hands every event to `deliver` on the listener's own thread
    /// (it must return quickly); ``events`` stays empty. For consumers that only wake
    /// waiters, so no Swift task has to drain a stream.
    convenience init(connectionString: String, channels: [String], backoff: Backoff, logger: Logger,
                     deliver: @escaping @Sendable (PostgresListenerEvent) -> Void) {
        let (events, continuation) = AsyncStream.makeStream(of: PostgresListenerEvent.self)
        continuation.finish()
        self.init(connectionString: connectionString, channels: channels, backoff: backoff, logger: logger,
                  events: events, deliver: deliver, finished: {})
    }

    private init(connectionString: String, channels: [String], backoff: Backoff, logger: Logger,
                 events: AsyncStream<PostgresListenerEvent>,
                 deliver: @escaping @Sendable (PostgresListenerEvent) -> Void, finished: @escaping @Sendable () -> Void) {
        self.events = events
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) != 0 { fds = [-1, -1] }
        wakePipe = (fds[0], fds[1])
        let loop = ListenerLoop(connectionString: connectionString, channels: channels, backoff: backoff,
                                logger: logger, deliver: deliver, wakeFD: fds[0])
        let thread = Thread { [self] in
            loop.run()
            self.stopped.withLock { stopped in
                stopped = true
                close(self.wakePipe.read)
                close(self.wakePipe.write)
            }
            finished()
        }
        thread.name = "rota-listen"
        thread.start()
    }

    /// Stops listening: wakes the thread, which closes the connection and ends ``events``.
    public func shutdown() {
        stopped.withLock { stopped in
            guard !stopped else { return }
            var byte: UInt8 = 1
            _ = write(wakePipe.write, &byte, 1)
        }
    }
}

/// The listener thread's state; only that thread uses it.
private final class ListenerLoop: @unchecked Sendable {
    let connectionString: String
    let channels: [String]
    let backoff: Backoff
    let logger: Logger
    let deliver: @Sendable (PostgresListenerEvent) -> Void
    let wakeFD: Int32

    init(connectionString: String, channels: [String], backoff: Backoff, logger: Logger,
         deliver: @escaping @Sendable (PostgresListenerEvent) -> Void, wakeFD: Int32) {
        self.connectionString = connectionString
        self.channels = channels
        self.backoff = backoff
        self.logger = logger
        self.deliver = deliver
        self.wakeFD = wakeFD
    }

    func run() {
        var attempt = 0
        while true {
            if let connection = connect() {
                attempt = 0
                deliver(.listening)
                let keepGoing = listen(on: connection)
                PQfinish(connection)
                if !keepGoing { return }
                logger.warning("listener connection lost, reconnecting")
            } else {
                // Wait before retrying; a wake-up means stop.
                if waitForWake(timeout: backoff.delay(afterAttempt: attempt)) { return }
                attempt += 1
            }
        }
    }

    /// True when the wake-up pipe became readable within `timeout`.
    private func waitForWake(timeout: Duration) -> Bool {
        var descriptor = pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        return poll(&descriptor, 1, milliseconds) > 0
    }

    private func connect() -> OpaquePointer? {
        let connection = PostgresConnection.connectdb(connectionString, applicationName: "rota-listener")
        guard let connection else { return nil }
        guard PQstatus(connection) == CONNECTION_OK else {
            logger.debug("listener cannot connect", metadata: ["error": "\(PostgresConnection.errorMessage(connection))"])
            PQfinish(connection)
            return nil
        }
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        for channel in channels {
            // Channel names are identifiers; quote them so any name works.
            let quoted = "\"" + channel.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            guard let result = PQexec(connection, "LISTEN \(quoted)") else {
                PQfinish(connection)
                return nil
            }
            let ok = PQresultStatus(result) == PGRES_COMMAND_OK
            PQclear(result)
            if !ok {
                PQfinish(connection)
                return nil
            }
        }
        return connection
    }

    /// Delivers notifications until the connection breaks (returns true) or a wake-up asks to stop (false).
    private func listen(on connection: OpaquePointer) -> Bool {
        let socket = PQsocket(connection)
        while true {
            var descriptors = [
                pollfd(fd: socket, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&descriptors, 2, 10_000)
            if ready < 0 {
                if errno == EINTR { continue }
                return true
            }
            if descriptors[1].revents != 0 { return false }
            // Also on a timeout: consuming input notices a connection that died quietly.
            if PQconsumeInput(connection) == 0 || PQstatus(connection) != CONNECTION_OK { return true }
            deliverNotifications(connection)
            if ready == 0 {
                // Idle for a while: a cheap round trip proves the connection still works.
                guard let result = PQexec(connection, "SELECT 1") else { return true }
                let ok = PQresultStatus(result) == PGRES_TUPLES_OK
                PQclear(result)
                if !ok { return true }
                // Notifications that arrived with the answer are already buffered by libpq.
                deliverNotifications(connection)
            }
        }
    }

    private func deliverNotifications(_ connection: OpaquePointer) {
        while let notify = PQnotifies(connection) {
            let notification = PostgresNotification(
                channel: String(cString: notify.pointee.relname),
                payload: notify.pointee.extra.map { String(cString: $0) } ?? "",
                senderPID: notify.pointee.be_pid)
            PQfreemem(notify)
            deliver(.notification(notification))
        }
    }
}
