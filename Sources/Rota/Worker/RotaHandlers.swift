import Foundation

/// The task handlers of a worker, by task name.
///
/// ```swift
/// var handlers = RotaHandlers()
/// handlers.register("send-email") { (email: Email, context) in
///     try await mailer.send(email)
///     return Receipt(id: ...)
/// }
/// ```
/// The payload is decoded from the task's JSON with `JSONDecoder`; the returned value is
/// stored as the task's result with `JSONEncoder`.
public struct RotaHandlers: Sendable {
    struct Handler: Sendable {
        var timeout: Duration?
        /// Payload JSON in, result JSON (or nil) out.
        var run: @Sendable (String, TaskContext) async throws -> String?
    }

    private(set) var handlers: [String: Handler] = [:]

    /// An empty registry.
    public init() {}

    /// The registered task names.
    public var taskNames: [String] { handlers.keys.sorted() }

    /// Registers the handler of task `name`, returning a result to store.
    /// - Parameter timeout: cancel the handler and fail the attempt with `timeout` after this long.
    public mutating func register<Payload: Decodable & Sendable, Result: Encodable & Sendable>(
        _ name: String, payload: Payload.Type = Payload.self, timeout: Duration? = nil,
        _ body: @escaping @Sendable (Payload, TaskContext) async throws -> Result
    ) {
        handlers[name] = Handler(timeout: timeout) { json, context in
            let payload = try Self.decode(Payload.self, json, task: name)
            let result = try await body(payload, context)
            return String(decoding: try JSONCoding.encoder().encode(result), as: UTF8.self)
        }
    }

    /// Registers the handler of task `name` that returns no result.
    public mutating func register<Payload: Decodable & Sendable>(
        _ name: String, payload: Payload.Type = Payload.self, timeout: Duration? = nil,
        _ body: @escaping @Sendable (Payload, TaskContext) async throws -> Void
    ) {
        handlers[name] = Handler(timeout: timeout) { json, context in
            try await body(try Self.decode(Payload.self, json, task: name), context)
            return nil
        }
    }

    subscript(name: String) -> Handler? { handlers[name] }

    private static func decode<Payload: Decodable>(_ type: Payload.Type, _ json: String, task: String) throws -> Payload {
        // The common empty payload needs no JSON parser (JSONDecoder would accept it too).
        if json == "{}", let empty = EmptyPayload() as? Payload { return empty }
        do {
            return try JSONCoding.decoder().decode(Payload.self, from: Data(json.utf8))
        } catch {
            // A payload that does not decode will not decode next time either.
            throw RotaTaskError.nonRetryable("payload of task \(task) does not decode as \(Payload.self): \(error)")
        }
    }
}

/// A payload or result with no content: `{}`.
public struct EmptyPayload: Codable, Sendable, Hashable {
    public init() {}
}
