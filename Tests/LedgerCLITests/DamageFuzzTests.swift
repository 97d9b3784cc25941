import Foundation
import LedgerCLI
import LedgerEngine
import LedgerTestSupport
import Testing

/// Random bit flips anywhere in a store (segments, indexes, views, snapshots, config), then
/// the commands run in this process: each must answer with an exit code of SPEC §3 (a trap
/// would take the test runner down). LEDGER_FUZZ_ROUNDS / LEDGER_FUZZ_SEED as elsewhere.
extension InProcessFuzzTests {
    // In the same serialized suite as the other in-process fuzz test: both point fds 1 and 2
    // at /dev/null while they run, which must not interleave.
    @Test func randomlyDamagedStoresNeverTrap() throws {
        let seed = UInt64(ProcessInfo.processInfo.environment["LEDGER_FUZZ_SEED"] ?? "") ?? 4242
        let trials = (Int(ProcessInfo.processInfo.environment["LEDGER_FUZZ_ROUNDS"] ?? "") ?? 400) / 4
        var rng = SplitMix64(seed: seed)
        let template = TemporaryDirectory()
        let env = ["HOME": template.path, "LEDGER_LOCK_TIMEOUT_MS": "500"]
        let devnull = open("/dev/null", O_WRONLY)
        let savedOut = dup(1), savedErr = dup(2)
        defer { dup2(savedOut, 1); dup2(savedErr, 2); close(savedOut); close(savedErr); close(devnull) }
        func run(_ dir: String, _ args: [String]) -> Int32 {
            fflush(nil)
            dup2(devnull, 1); dup2(devnull, 2)
            let status = CLI.run(["--dir", dir] + args, environment: env)
            dup2(savedOut, 1); dup2(savedErr, 2)
            return status
        }
        // A store with several segments, a reversal, snapshots and views.
        #expect(run(template.path, ["config", "segment_bytes", "600"]) == 0)
        #expect(run(template.path, ["config", "snapshot_every", "5"]) == 0)
        for a in ["a", "b"] { #expect(run(template.path, ["open", a]) == 0) }
        for i in 0..<14 { #expect(run(template.path, ["deposit", i % 2 == 0 ? "a" : "b", "1.25", "--id", "d\(i)"]) == 0) }
        #expect(run(template.path, ["transfer", "a", "b", "2"]) == 0)
        #expect(run(template.path, ["reverse", "3"]) == 0)
        let files = try FileManager.default.subpathsOfDirectory(atPath: template.path)
            .filter { !FileManager.default.fileExists(atPath: template.path + "/" + $0 + "/.") && $0 != "LOCK" }
        #expect(files.contains { $0.hasSuffix(".snap") } && files.contains { $0.hasSuffix(".tbl") })
        var statuses = [Int32: Int]()
        for trial in 0..<trials {
            let dir = TemporaryDirectory()
            try FileManager.default.removeItem(atPath: dir.path)
            try FileManager.default.copyItem(atPath: template.path, toPath: dir.path)
            var damaged: [String] = []
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                let file = files[Int.random(in: 0..<files.count, using: &rng)]
                let size = FileDamage.size(dir.path + "/" + file)
                guard size > 0 else { continue }
                let offset = Int.random(in: 0..<size, using: &rng)
                FileDamage.flipBit(dir.path + "/" + file, offset: offset, bit: Int.random(in: 0..<8, using: &rng))
                damaged.append("\(file)@\(offset)")
            }
            for args in [["balance"], ["balance", "a", "--at-position", "9"], ["history", "b"], ["log"], ["info"], ["verify"],
                         ["deposit", "a", "1"], ["export", "--format", "journal"], ["replay"], ["balance", "--as-of", "2099-01-01"]] {
                let status = run(dir.path, args)
                statuses[status, default: 0] += 1
                #expect((0...5).contains(status), "seed \(seed) trial \(trial) \(damaged): \(args) → \(status)")
            }
        }
        print("damage fuzz: seed \(seed), \(trials) damaged stores × 10 commands, exit codes \(statuses.sorted { $0.key < $1.key })")
    }
}
