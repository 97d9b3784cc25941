import Foundation
import LedgerCLI
import LedgerEngine
import LedgerTestSupport
import Testing

/// Thousands of random command lines and import files through `CLI.run` in this process (a trap
/// would take the test runner down with it): exit codes only from SPEC §3, nothing appended by a
/// failure. LEDGER_FUZZ_ROUNDS raises the count, LEDGER_FUZZ_SEED changes the inputs.
@Suite(.serialized) struct InProcessFuzzTests {
    @Test func thousandsOfRandomCommandsAndImportLines() throws {
        let seed = UInt64(ProcessInfo.processInfo.environment["LEDGER_FUZZ_SEED"] ?? "") ?? 31337
        let rounds = (Int(ProcessInfo.processInfo.environment["LEDGER_FUZZ_ROUNDS"] ?? "") ?? 400) * 10
        var rng = SplitMix64(seed: seed)
        let dir = TemporaryDirectory()
        let env = ["HOME": dir.path, "LEDGER_LOCK_TIMEOUT_MS": "1000"]
        let ledger = Ledger(layout: StoreLayout(root: dir.path))
        let commands = ["open", "close", "deposit", "withdraw", "transfer", "reverse", "balance", "history", "log", "config",
                        "import", "export", "info", "snapshot", "help", "nope"]
        let atoms = ["a", "b", "c", "", "-5", "0", "1", "0.01", "12.345", "1e3", "92233720368547758.07", "99999999999999999999",
                     "--at", "2024-01-01", "2024-02-30", "2031-01-01T00:00:00Z", "--id", "k1", "--memo", "m\u{1}", "--expect-version", "1",
                     "--as-of", "--at-position", "3", "--since", "--until", "--limit", "-1", "--currency", "EUR", "eur", "--scale", "0",
                     "19", "--overdraft", "--format", "csv", "journal", "--json", "--", "--from-position", "x/y", String(repeating: "z", count: 70)]
        let fields = ["op", "account", "from", "to", "amount", "at", "id", "memo", "position", "scale", "extra"]
        let values = ["\"open\"", "\"deposit\"", "\"transfer\"", "\"reverse\"", "\"a\"", "\"b\"", "\"1.00\"", "1", "\"2024-01-01T00:00:00Z\"",
                      "\"\\u00e9\"", "\"\\x\"", "null", "[]", "\"-1\"", "\"99999999999999999999\"", "true"]
        let devnull = open("/dev/null", O_WRONLY)
        let savedOut = dup(1), savedErr = dup(2)
        defer {
            dup2(savedOut, 1); dup2(savedErr, 2)
            close(savedOut); close(savedErr); close(devnull)
        }
        var statuses = [Int32: Int]()
        for round in 0..<rounds {
            var argv = ["--dir", dir.path, commands[Int.random(in: 0..<commands.count, using: &rng)]]
            for _ in 0..<Int.random(in: 0...5, using: &rng) { argv.append(atoms[Int.random(in: 0..<atoms.count, using: &rng)]) }
            if argv[2] == "import" {
                var lines: [String] = []
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    var parts: [String] = []
                    for _ in 0..<Int.random(in: 0...5, using: &rng) {
                        parts.append("\"\(fields[Int.random(in: 0..<fields.count, using: &rng)])\":\(values[Int.random(in: 0..<values.count, using: &rng)])")
                    }
                    var line = "{" + parts.joined(separator: ",") + "}"
                    if Int.random(in: 0..<5, using: &rng) == 0 { line = String(line.dropLast(Int.random(in: 0...min(3, line.count), using: &rng))) }
                    lines.append(line)
                }
                let path = dir.path + "-fuzz.ndjson"
                FileDamage.write(Array(lines.joined(separator: "\n").utf8), path)
                argv = Array(argv.prefix(3)) + [path] + (Int.random(in: 0..<3, using: &rng) == 0 ? ["--continue-on-error"] : [])
            }
            let before = try ledger.info().records
            fflush(nil)
            dup2(devnull, 1); dup2(devnull, 2)
            let status = CLI.run(argv, environment: env)
            dup2(savedOut, 1); dup2(savedErr, 2)
            statuses[status, default: 0] += 1
            #expect((0...5).contains(status), "seed \(seed) round \(round): \(argv) → \(status)")
            if status != 0 && !(argv[2] == "import" && argv.contains("--continue-on-error")) {
                #expect(try ledger.info().records == before, "seed \(seed) round \(round): \(argv) failed but appended")
            }
        }
        try? FileManager.default.removeItem(atPath: dir.path + "-fuzz.ndjson")
        #expect(try ledger.verify(expectHead: nil).isSound)
        print("in-process bad-input suite: seed \(seed), \(rounds) command lines, exit codes \(statuses.sorted { $0.key < $1.key })")
    }
}
