import Foundation
import LedgerTestSupport
import Testing

/// Writers killed with SIGKILL at random moments: the store must open, verify, and hold
/// every acknowledged operation exactly once. Trials: $LEDGER_CRASH_TRIALS (`make crash-test` runs hundreds).
@Suite struct CrashTests {
    static var trials: Int { Int(ProcessInfo.processInfo.environment["LEDGER_CRASH_TRIALS"] ?? "") ?? 4 }

    func importLines(_ n: Int) -> String {
        var out = ["{\"op\":\"open\",\"account\":\"a\",\"at\":\"2020-01-01T00:00:00Z\"}"]
        for i in 1..<n {
            out.append("{\"op\":\"deposit\",\"account\":\"a\",\"amount\":\"0.01\",\"at\":\"2020-01-01T00:00:01Z\",\"id\":\"d\(i)\"}")
        }
        return out.joined(separator: "\n")
    }

    @Test func killedImportsKeepEveryAcknowledgedBatch() throws {
        let seed = UInt64(ProcessInfo.processInfo.environment["LEDGER_CRASH_SEED"] ?? "") ?? 12345
        var rng = SplitMix64(seed: seed)
        let total = 40_000
        let input = importLines(total)
        for trial in 0..<Self.trials {
            let s = CLIStore()
            let path = s.dir.path + "-input.ndjson"
            FileDamage.write(Array(input.utf8), path)
            defer { try? FileManager.default.removeItem(atPath: path) }
            let running = try Executables.start("ledger", ["--dir", s.dir.path, "--json", "import", path])
            usleep(UInt32.random(in: 20_000...900_000, using: &rng))
            kill(running.process.processIdentifier, SIGKILL)
            let out = running.wait()
            let acked = out.stdout.split(separator: "\n").compactMap { try? CLIStore.object(String($0)) }
                .compactMap { $0["position"] as? Int }.max() ?? 0
            let verify = try s.run("verify")
            #expect(verify.status == 0, "seed \(seed) trial \(trial): \(verify.stdout) \(verify.stderr)")
            let count = try s.eventCount()
            #expect(count >= acked, "seed \(seed) trial \(trial): acknowledged \(acked), store has \(count)")
            #expect(count % 10_000 == 0 || count == total, "seed \(seed) trial \(trial): partial batch, \(count) events")
            // Running the import again completes it exactly once.
            let again = try s.run("import", path)
            #expect(again.status == 0, "seed \(seed) trial \(trial): \(again.stderr)")
            #expect(try s.eventCount() == total, "seed \(seed) trial \(trial)")
            #expect(try s.json("balance", "a")["accounts"].flatMap { ($0 as? [[String: Any]])?.first?["balance"] as? String } == "399.99")
        }
    }

    @Test func killedReplaysLeaveViewsThatAnswerRight() throws {
        let seed = UInt64(ProcessInfo.processInfo.environment["LEDGER_CRASH_SEED"] ?? "") ?? 4242
        var rng = SplitMix64(seed: seed)
        let s = CLIStore()
        try s.json("config", "snapshot_every", "1000")
        var lines = ["{\"op\":\"open\",\"account\":\"a\"}", "{\"op\":\"open\",\"account\":\"b\"}"]
        for i in 1..<20_000 {
            lines.append(i % 3 == 0
                ? "{\"op\":\"transfer\",\"from\":\"a\",\"to\":\"b\",\"amount\":\"0.01\"}"
                : "{\"op\":\"deposit\",\"account\":\"a\",\"amount\":\"0.02\",\"id\":\"d\(i)\"}")
        }
        #expect(try s.run("import", "-", stdin: lines.joined(separator: "\n")).status == 0)
        try s.json("replay", "--snapshots")
        let positions = ["1", "2", "999", "1000", "1001", "12345", "19999", "20001"]
        // The answers themselves (position and accounts); which snapshot served them may change.
        func answers() throws -> [String] {
            try ([[]] + positions.map { ["--at-position", $0] }).map { args in
                let answer = try CLIStore.object(try s.runArgs(["--json", "balance"] + args).stdout)
                let accounts = try JSONSerialization.data(withJSONObject: answer["accounts"] ?? [], options: [.sortedKeys])
                return "\(answer["position"] ?? "-") \(String(decoding: accounts, as: UTF8.self))"
            }
        }
        let expected = try answers()
        let t0 = Date()
        try s.json("replay", "--snapshots")
        let replayMicros = UInt32(max(20_000, Date().timeIntervalSince(t0) * 1e6))
        for trial in 0..<Self.trials {
            let running = try Executables.start("ledger", ["--dir", s.dir.path, "replay", "--snapshots"])
            usleep(UInt32.random(in: 0...replayMicros, using: &rng))
            kill(running.process.processIdentifier, SIGKILL)
            _ = running.wait()
            // Each view is as it was or complete; missing snapshots only cost speed.
            let verify = try s.run("verify")
            #expect(verify.status == 0, "seed \(seed) trial \(trial): \(verify.stdout) \(verify.stderr)")
            #expect(try answers() == expected, "seed \(seed) trial \(trial)")
            // An idempotent retry is still recognised (the ids view holds every key).
            let again = try s.json("deposit", "a", "0.02", "--id", "d1")
            #expect(again["duplicate"] as? Bool == true, "seed \(seed) trial \(trial): \(again)")
        }
    }

    @Test func killedSingleCommandsLoseNothingAcknowledged() throws {
        let seed = UInt64(ProcessInfo.processInfo.environment["LEDGER_CRASH_SEED"] ?? "") ?? 777
        var rng = SplitMix64(seed: seed)
        let s = CLIStore()
        try s.json("open", "a")
        var acknowledged = Set<String>()
        var attempted = 0
        for i in 0..<(Self.trials * 10) {
            let id = "k\(i)"
            attempted += 1
            let running = try Executables.start("ledger", ["--dir", s.dir.path, "deposit", "a", "1", "--id", id])
            usleep(UInt32.random(in: 0...15_000, using: &rng))
            kill(running.process.processIdentifier, SIGKILL)
            let r = running.wait()
            // A process killed by SIGKILL reports status 9, never 0: status 0 means it finished and acknowledged.
            if r.status == 0 { acknowledged.insert(id) }
            // After every kill the store opens and verifies (the next writer cuts any torn tail).
            #expect(try s.run("verify").status == 0, "seed \(seed) after kill \(i)")
        }
        let verify = try s.run("verify")
        #expect(verify.status == 0, "seed \(seed): \(verify.stdout) \(verify.stderr)")
        let log = try CLIStore.lines(try s.run("log").stdout)
        let ids = log.compactMap { $0["id"] as? String }
        #expect(Set(ids).count == ids.count, "seed \(seed): an id appears twice")
        #expect(acknowledged.isSubset(of: Set(ids)), "seed \(seed): acknowledged but missing: \(acknowledged.subtracting(ids))")
        // Every recorded deposit is whole: the balance is exactly the count.
        let balance = try s.json("balance", "a")["accounts"].flatMap { ($0 as? [[String: Any]])?.first?["balance"] as? String }
        #expect(balance == "\(ids.count).00")
        print("crash suite: \(attempted) killed commands, \(acknowledged.count) acknowledged, \(ids.count) recorded")
    }
}

