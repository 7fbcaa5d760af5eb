import Foundation
import Logging
import Rota

/// Two complete examples of Rota: monthly reports (``MonthlyReports``) and storage cleanup
/// (``StorageCleanup``), each a schedule whose task fans out one child task per unit of work.
///
/// A worker runs them with ``register(into:client:store:)`` and applies their queues and
/// schedules with ``definitions(accelerated:)``; `rota-examples worker` does both through
/// ``prepareWorker(connectionString:environment:handlers:queues:logger:)``.
public enum RotaExamples {
    /// The version of the examples' definitions documents.
    public static let definitionsVersion = 1

    /// The per-process concurrency a worker gives each example queue (the queue definitions
    /// cap what runs across all replicas).
    public static let workerQueues: [String: Int] = [MonthlyReports.queue: 4, StorageCleanup.queue: 8]

    /// The examples' queues and schedules.
    ///
    /// - `reports`: at most 4 tasks at once across all replicas; schedule `monthly-reports`
    ///   fires `reports.fan_out` at 03:00 UTC on the 1st of each month (`0 3 1 * *`).
    /// - `cleanup`: at most 20 task starts per second; schedule `storage-cleanup` fires
    ///   `cleanup.scan` every hour, deleting objects under `tmp/*/` older than one hour.
    ///
    /// `accelerated` (for the demo) fires the reports every 10 seconds, reporting the last
    /// 3 months with each report pretending to take 200 ms (so the cap of 4 shows), and the
    /// cleanup every 15 seconds. Both documents have the same version, so
    /// one database takes one of them: applying the other is rejected (RO040).
    public static func definitions(accelerated: Bool) -> DefinitionsDocument {
        DefinitionsDocument(
            version: definitionsVersion,
            queues: [
                .init(name: MonthlyReports.queue, concurrency: 4, maxAttempts: 5, lease: "60 seconds"),
                .init(name: StorageCleanup.queue, rateLimit: 20, ratePeriod: "1 second", maxAttempts: 5,
                      lease: "60 seconds"),
            ],
            schedules: [
                .init(name: "monthly-reports", cron: accelerated ? "*/10 * * * * *" : "0 3 1 * *",
                      queue: MonthlyReports.queue, task: MonthlyReports.fanOutTask,
                      payload: accelerated ? ["months": 3, "simulate_work_ms": 200] : ["months": 1],
                      timezone: "UTC", catchUp: .latest),
                .init(name: "storage-cleanup", cron: accelerated ? "*/15 * * * * *" : "0 * * * *",
                      queue: StorageCleanup.queue, task: StorageCleanup.scanTask,
                      payload: ["root": .string(StorageCleanup.defaultRoot), "max_age_seconds": 3600],
                      timezone: "UTC", catchUp: .latest),
            ])
    }

    /// Registers the four example handlers: `reports.fan_out`, `reports.generate`,
    /// `cleanup.scan` and `cleanup.prefix`.
    /// - Parameters:
    ///   - client: the database of the reports tables, also used to enqueue the fan-outs' children.
    ///   - store: where the cleanup deletes temporary objects.
    ///   - cleanupBatchSize: objects per recorded batch of `cleanup.prefix` (``StorageCleanup/batchSize``).
    public static func register(into handlers: inout RotaHandlers, client: RotaClient, store: any ObjectStore,
                                cleanupBatchSize: Int = StorageCleanup.defaultBatchSize) {
        let reports = MonthlyReports(client: client)
        let cleanup = StorageCleanup(store: store, batchSize: cleanupBatchSize)

        handlers.register(MonthlyReports.fanOutTask) {
            (payload: MonthlyReports.FanOutPayload, context) -> MonthlyReports.FanOutSummary in
            let scheduledAt = try FireTime.resolve(scheduledAt: payload.scheduledAt, context: context)
            return try await reports.fanOut(context.fanOut(using: client), scheduledAt: scheduledAt,
                                            months: payload.months ?? 1,
                                            simulatedWorkMilliseconds: payload.simulatedWorkMilliseconds)
        }
        handlers.register(MonthlyReports.generateTask) {
            (payload: MonthlyReports.GeneratePayload, context) -> MonthlyReports.Report in
            try await reports.generate(tenantID: payload.tenantID, month: payload.month, context: context,
                                       simulatedWorkMilliseconds: payload.simulatedWorkMilliseconds)
        }
        handlers.register(StorageCleanup.scanTask) {
            (payload: StorageCleanup.ScanPayload, context) -> StorageCleanup.ScanSummary in
            let scheduledAt = try FireTime.resolve(scheduledAt: payload.scheduledAt, context: context)
            let maxAge = payload.maxAgeSeconds.map { Duration.seconds($0) } ?? StorageCleanup.defaultMaxAge
            return try await cleanup.scan(context.fanOut(using: client), root: payload.root ?? StorageCleanup.defaultRoot,
                                          cutoff: StorageCleanup.cutoff(scheduledAt: scheduledAt, maxAge: maxAge))
        }
        handlers.register(StorageCleanup.prefixTask) {
            (payload: StorageCleanup.PrefixPayload, context) -> StorageCleanup.PrefixSummary in
            guard let cutoff = UTCTimestamp.parse(payload.cutoff) else {
                throw RotaTaskError.nonRetryable("cleanup.prefix: cutoff is not an ISO 8601 instant: \(payload.cutoff)")
            }
            return try await cleanup.cleanPrefix(payload.prefix, cutoff: cutoff, context: context)
        }
    }

    /// Creates the reports tables when missing (``MonthlyReports/installSchema(connectionString:logger:)``)
    /// and applies the examples' definitions: what `rota-examples setup` does, and
    /// `rota-examples worker` at start unless `ROTA_EXAMPLES_APPLY=0`. Needs `rota_admin`
    /// (`rota.apply`) and the right to create schema `rota_examples` (or its tables in place).
    public static func setUp(connectionString: String, client: RotaClient, accelerated: Bool,
                             logger: Logger) async throws {
        try await MonthlyReports.installSchema(connectionString: connectionString, logger: logger)
        let outcome = try await definitions(accelerated: accelerated).apply(using: client)
        logger.info("applied the example definitions", metadata: ["accelerated": "\(accelerated)", "outcome": "\(outcome)"])
    }

    /// Grants `role` what a replica of `rota-examples worker` needs and nothing more: the rota
    /// roles `rota_worker` (run tasks), `rota_producer` (the fan-outs enqueue children) and
    /// `rota_reader` (`rota status`, the health check), and the reports tables' privileges
    /// (``MonthlyReports/grantSQL(to:)``). Run by an administrator (`rota_admin` with
    /// `ADMIN OPTION`, or a superuser) and the tables' owner, after the tables exist.
    public static func grantWorkerPrivileges(to role: String, connectionString: String, logger: Logger) async throws {
        let connection = try await PostgresConnection.connect(connectionString, logger: logger)
        do {
            let quoted = try await connection.query("SELECT quote_ident($1::text) AS role", [role])[0]
                .decode("role", as: String.self)
            try await connection.executeScript("""
                BEGIN;
                GRANT rota_worker, rota_producer, rota_reader TO \(quoted);
                \(MonthlyReports.grantSQL(to: quoted))
                COMMIT;
                """)
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
        logger.info("granted the example worker's privileges", metadata: ["role": "\(role)"])
    }

    /// What `rota-examples worker` does before it starts: creates the reports tables when
    /// missing (``MonthlyReports/installSchema(connectionString:logger:)``), applies the
    /// examples' definitions, registers their handlers and adds their queues to the worker's.
    ///
    /// Read from `environment`:
    /// - `ROTA_EXAMPLES_ACCELERATED=1`: the demo's accelerated schedules.
    /// - `ROTA_EXAMPLES_SEAWEED_FILER=http://host:8888`: clean up a SeaweedFS filer, else
    /// - `ROTA_EXAMPLES_STORAGE_DIR` (default `.rota/demo-storage`): clean up a local folder.
    /// - `ROTA_EXAMPLES_APPLY=0`: neither create the tables nor apply the definitions (someone else
    ///   does, e.g. `rota-examples setup`); only check that this login may use the tables.
    public static func prepareWorker(connectionString: String, environment: [String: String],
                                     handlers: inout RotaHandlers, queues: inout [String: Int],
                                     logger: Logger) async throws {
        // The handlers' own connection, open for the life of the process.
        let client = RotaClient(connectionString: connectionString, logger: logger)
        let store: any ObjectStore
        if let filer = environment["ROTA_EXAMPLES_SEAWEED_FILER"], !filer.isEmpty {
            guard let url = URL(string: filer) else {
                throw RotaError(.invalidUsage, "ROTA_EXAMPLES_SEAWEED_FILER is not a URL: \(filer)")
            }
            store = SeaweedFilerStore(filerURL: url)
        } else {
            let folder = environment["ROTA_EXAMPLES_STORAGE_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? ".rota/demo-storage"
            store = try LocalDirectoryStore(root: URL(fileURLWithPath: folder))
        }
        if environment["ROTA_EXAMPLES_APPLY"] != "0" {
            try await setUp(connectionString: connectionString, client: client,
                            accelerated: environment["ROTA_EXAMPLES_ACCELERATED"] == "1", logger: logger)
        } else {
            try await MonthlyReports.requireSchema(connectionString: connectionString, logger: logger)
        }
        register(into: &handlers, client: client, store: store)
        for (queue, concurrency) in workerQueues where queues[queue] == nil {
            queues[queue] = concurrency
        }
    }
}
