import Hummingbird
import Logging
import NIOCore

/// Runs a Hummingbird server for `router` on host:port until graceful shutdown or
/// cancellation, reporting the bound port (port 0 picks a free one) to `onListening`.
func serveHTTP(_ router: Router<BasicRequestContext>, host: String, port: Int, serverName: String, logger: Logger,
               onListening: @escaping @Sendable (Int) async -> Void) async throws {
    let app = Application(
        router: router,
        configuration: .init(address: .hostname(host, port: port), serverName: serverName),
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? 0
            logger.info("listening", metadata: ["address": "http://\(host):\(port)/", "server": "\(serverName)"])
            await onListening(port)
        },
        logger: logger)
    try await app.run()
}

/// A response with a text body.
func textResponse(_ status: HTTPResponse.Status, _ contentType: String, _ body: String) -> Response {
    Response(status: status, headers: [.contentType: contentType], body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
}
