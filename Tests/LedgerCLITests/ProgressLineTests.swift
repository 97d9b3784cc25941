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
}
