import ArgumentParser
import Foundation
import Rota
import RotaCommandLine

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Install or upgrade the rota schema (the one built into this binary, as in sql/install.sql).")
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await connection.withClient { try await $0.migrate() }
        print("rota: schema is up to date")
    }
}

struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Apply a definitions document (queues and schedules, JSON) with rota.apply.",
        discussion: """
            The document is {"version": n, "queues": [...], "schedules": [...]}; a version older than \
            the applied one changes nothing, and managed schedules it omits are disabled.
            """)
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The JSON file, or - for standard input.") var file: String

    func run() async throws {
        let data: Data
        if file == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let contents = FileManager.default.contents(atPath: file) else {
                throw CommandFailure("cannot read \(file)")
            }
            data = contents
        }
        let document = PostgresJSON(text: String(decoding: data, as: UTF8.self))
        let outcome = try await connection.withClient { try await $0.apply(definitionsJSON: document) }
        print(outcome)
    }
}
