extension Statements {
    /// `rota.alerts`, in a stable order.
    func alerts() async throws -> [RotaAlert] {
        try await run("SELECT * FROM rota.alerts ORDER BY alert, queue, schedule, executor").map(RotaAlert.init(row:))
    }

    /// `rota.metrics(format)`.
    func metrics(format: String) async throws -> String {
        try await run("SELECT rota.metrics($1) AS metrics", [format]).first?.decode("metrics", as: String.self) ?? ""
    }
}
