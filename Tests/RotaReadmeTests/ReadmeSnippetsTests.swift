import RotaTestSupport
import XCTest

/// The README's Swift snippets are compiled by this target (`ReadmeSnippet<N>.swift`, one
/// file per snippet with its own imports); this test fails when README.md changed and
/// those files were not regenerated.
final class ReadmeSnippetsTests: XCTestCase {
    func testSnippetFilesMatchTheReadme() async throws {
        let generator = TestEnvironment.repositoryRoot.appendingPathComponent("scripts/readme-snippets.py").path
        let check = try await TestEnvironment.runCommand(["/usr/bin/env", "python3", generator, "--check"])
        XCTAssertEqual(check.status, 0, check.output)
    }

}
