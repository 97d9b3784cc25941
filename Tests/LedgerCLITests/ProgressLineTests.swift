import Foundation
@testable import LedgerCLI
import LedgerTestSupport
import Testing

/// The progress line of replay and verify: how far, how fast, how long still to go; drawn only
/// when stderr is a terminal.
@Suite struct ProgressLineTests {
    @Test func tellsCountPercentRateAndTimeLeft() {
        #expect(ProgressLine.text("replay", done: 0, total: 1_000_000, seconds: 0) == "replay: 0/1000000 events (0%)")
        #expect(ProgressLine.text("replay", done: 524_288, total: 1_000_000, seconds: 0.25)
                == "replay: 524288/1000000 events (52%), 2.10 M events/s, 0.2 s left")
        #expect(ProgressLine.text("verify", done: 300, total: 1_200, seconds: 0.5) == "verify: 300/1200 events (25%), 600 events/s, 1.5 s left")
        #expect(ProgressLine.text("replay", done: 1_000_000, total: 1_000_000, seconds: 0.4)
                == "replay: 1000000/1000000 events (100%), 2.50 M events/s")
        #expect(ProgressLine.text("replay", done: 0, total: 0, seconds: 0) == "replay: 0/0 events (100%)")
    }

    @Test func drawnOnATerminalOnly() throws {
        let s = CLIStore()
        for i in 0..<3 { try s.json("open", "a\(i)") }
        // Not a terminal: nothing on stderr.
        let plain = try s.run("replay")
        #expect(plain.status == 0 && plain.stderr.isEmpty)
        // A terminal (a pseudo-terminal from util-linux's `script`): the line, ended by a newline.
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "util-linux's script (Debian: bsdutils, essential)")
        let ledger = Executables.directory + "/ledger"
        let r = try Executables.run("/usr/bin/script", ["-qec", "\(ledger) --dir \(s.dir.path) replay", "/dev/null"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("replay: 3/3 events (100%)"), "\(r.stdout)")
        #expect(r.stdout.contains("events/s"))
    }

    @Test func importTellsLinesCheckedThenBatchesCommitted() {
        #expect(ImportProgress.validating(line: 512_000, bytesRead: 51_350_000, size: 114_120_041, seconds: 0.5)
                == "import: checking line 512000, 44% of 114.1 MB read, 1.02 M lines/s, 0.6 s left")
        // Standard input: no size, so no share read and no time left.
        #expect(ImportProgress.validating(line: 4096, bytesRead: 400_000, size: nil, seconds: 0.01) == "import: checking line 4096, 409600 lines/s")
        #expect(ImportProgress.validating(line: 0, bytesRead: 0, size: 10, seconds: 0) == "import: checking line 0, 0% of 0.0 MB read")
        #expect(ImportProgress.committing(line: 20_000, of: 1_000_000, position: 20_010)
                == "import: committed through line 20000 of 1000000, position 20010")
    }

    @Test func importDrawsItsLineOnATerminal() throws {
        let s = CLIStore()
        var lines = ["{\"op\":\"open\",\"account\":\"a\"}"]
        lines += (0..<25_000).map { "{\"op\":\"deposit\",\"account\":\"a\",\"amount\":\"1.00\",\"id\":\"d\($0)\"}" }
        let file = s.dir.path + "/ops.ndjson"
        try lines.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "util-linux's script (Debian: bsdutils, essential)")
        let ledger = Executables.directory + "/ledger"
        let r = try Executables.run("/usr/bin/script", ["-qec", "\(ledger) --dir \(s.dir.path) import \(file)", "/dev/null"])
        #expect(r.status == 0, "\(r.stdout)")
        #expect(r.stdout.contains("import: checking line "), "\(r.stdout)")
        #expect(r.stdout.contains("MB read"))
        #expect(r.stdout.contains("import: committed through line 25001 of 25001, position 25001"), "\(r.stdout)")
        #expect(r.stdout.contains("imported 25001 of 25001 operations"))
        // Not a terminal: only the summary.
        let plain = try CLIStore().run("import", file)
        #expect(plain.status == 0 && plain.stderr.isEmpty)
    }
}
