import Rota
import RotaTestSupport
import XCTest

/// The schema compiled into the library is the one in `sql/`: editing `sql/` without
/// regenerating `Sources/Rota/Schema/EmbeddedSchema.swift` fails here.
final class EmbeddedSchemaTests: XCTestCase {
    func testEmbeddedSchemaIsTheExpansionOfSQLInstall() async throws {
        let generator = TestEnvironment.repositoryRoot.appendingPathComponent("scripts/embed-sql.py").path
        let expansion = try await TestEnvironment.runCommand(["/usr/bin/env", "python3", generator, "--expand"])
        XCTAssertEqual(expansion.status, 0, expansion.output)
        XCTAssertFalse(expansion.output.isEmpty, "the expansion of sql/install.sql is empty")
        // Not XCTAssertEqual: its message would print both 100 kB scripts.
        XCTAssertTrue(expansion.output == RotaSchema.installScript,
                      "the embedded schema differs from sql/ (first difference at line \(firstDifferingLine(expansion.output, RotaSchema.installScript))): run scripts/embed-sql.py")
    }

    private func firstDifferingLine(_ a: String, _ b: String) -> Int {
        let left = a.split(separator: "\n", omittingEmptySubsequences: false)
        let right = b.split(separator: "\n", omittingEmptySubsequences: false)
        return (zip(left, right).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(left.count, right.count)) + 1
    }
}
