import Foundation
import LedgerTestSupport
import Testing

/// Concurrency, I/O faults and random bad input, through the built binary.
@Suite struct TrustTests {
    @Test func eightProcessesOnOverlappingAccountsLoseNothing() throws {
        let s = CLIStore()
        let accounts = ["a", "b", "c"]
        for a in accounts { try s.json("open", a) }
        try s.json("deposit", "a", "100.00")
        s.environment["LEDGER_LOCK_TIMEOUT_MS"] = "2000"
        // 8 workers, each a shell loop of commands; every line of output says what happened.
        var workers: [Executables.Running] = []
        let errors = TemporaryDirectory("ledger-trust-stderr")
        for w in 0..<8 {
            var script = ""
            for i in 0..<12 {
                let from = accounts[(w + i) % 3], to = accounts[(w + i + 1) % 3]
                let cmd = i % 3 == 0 ? "deposit \(from) 1.00" : "transfer \(from) \(to) 0.50"
                script += "\"$L\" --dir \"$D\" --json \(cmd) --id w\(w)-\(i) >/dev/null 2>\"$E/\(w).\(i)\"; echo \"w\(w)-\(i) $? \(cmd)\"\n"
            }
            workers.append(try Executables.start("/bin/sh", ["-c", script], environment: ["L": Executables.directory + "/ledger", "D": s.dir.path, "E": errors.path, "LEDGER_LOCK_TIMEOUT_MS": "2000"]))
        }
        // Readers run while the writers work and must never fail.
        var readerFailures = 0
        for _ in 0..<15 {
            let b = try s.run("--json", "balance")
            let l = try s.run("log")
            if b.status != 0 || l.status != 0 { readerFailures += 1 }
            _ = try CLIStore.lines(l.stdout)
        }
        #expect(readerFailures == 0)
        var expected = ["a": 10_000, "b": 0, "c": 0]
        var succeeded = 0
        for worker in workers {
            let out = worker.wait()
            for line in out.stdout.split(separator: "\n") {
                let parts = line.split(separator: " ").map(String.init)
                let status = Int(parts[1]) ?? -1
                let stderr = String(decoding: FileDamage.read(errors.path + "/" + parts[0].dropFirst().replacingOccurrences(of: "-", with: ".")), as: UTF8.self)
                #expect([0, 1, 3].contains(status), "\(line): \(stderr)")
                guard status == 0 else { continue }
                succeeded += 1
                if parts[2] == "deposit" {
                    expected[parts[3], default: 0] += 100
                } else {
                    expected[parts[3], default: 0] -= 50
                    expected[parts[4], default: 0] += 50
                }
            }
        }
        #expect(succeeded > 24, "only \(succeeded) of 96 commands succeeded")
        print("concurrency suite: 8 processes, 96 commands, \(succeeded) succeeded, the rest busy or rejected; nothing lost")
        let balances = (try s.json("balance")["accounts"] as? [[String: Any]] ?? []).map { ($0["account"] as? String ?? "", $0["balance"] as? String ?? "") }
        for (name, balance) in balances {
            let cents = expected[name] ?? 0
            #expect(balance == "\(cents / 100).\(String(format: "%02d", cents % 100))", "\(name)")
        }
        #expect(try s.eventCount() == 4 + succeeded)
        let log = try CLIStore.lines(try s.run("log").stdout)
        #expect(log.map { $0["position"] as? Int } == Array(1...(4 + succeeded)).map { Optional($0) })
        #expect(try s.run("verify").status == 0)
    }

    @Test func aWriteBeyondTheFileSizeLimitIsExitFiveAndTheStoreStaysConsistent() throws {
        let s = CLIStore()
        try s.json("open", "a")
        try s.json("deposit", "a", "1", "--memo", String(repeating: "x", count: 900))
        let before = try s.eventCount()
        let segment = s.dir.path + "/log/00000000000000000001.seg"
        let size = FileDamage.size(segment)
        // sh's ulimit -f counts 512-byte blocks (dash) or 1024 (bash): both stop the next write.
        let blocks = (size + 511) / 512
        let r = try Executables.run("/bin/sh", ["-c", "ulimit -f \(blocks); exec \"$L\" --dir \"$D\" --json deposit a 2 --memo \"$M\""],
                                    environment: ["L": Executables.directory + "/ledger", "D": s.dir.path, "M": String(repeating: "y", count: 1000)])
        #expect(r.status == 5, "\(r.stderr)")
        #expect(r.stderr.contains("\"code\":\"no_space\"") || r.stderr.contains("\"code\":\"io\""), "\(r.stderr)")
        #expect(try s.eventCount() == before)
        #expect(try s.run("verify").status == 0)
        // The next command works.
        #expect(try s.json("deposit", "a", "3")["balance"] as? String == "4.00")
    }

    @Test func aReadOnlyStoreIsExitFiveAndRecovers() throws {
        let s = CLIStore()
        try s.json("open", "a")
        try s.json("deposit", "a", "1")
        let paths = [s.dir.path + "/log"] + (try FileManager.default.contentsOfDirectory(atPath: s.dir.path + "/log")).map { s.dir.path + "/log/" + $0 }
        func chattr(_ flag: String) throws -> Int32 {
            try Executables.run("/usr/bin/chattr", [flag] + paths).status
        }
        // chattr +i makes files immutable even for root (tests run as root here); without it there is nothing to test.
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/chattr"), try chattr("+i") == 0 else {
            print("read-only store test skipped: chattr +i is not available here")
            return
        }
        let r = try s.run("--json", "deposit", "a", "2")
        #expect(try chattr("-i") == 0)
        #expect(r.status == 5, "\(r.stderr)")
        #expect(r.stderr.contains("Operation not permitted") || r.stderr.contains("denied"), "\(r.stderr)")
        #expect(try s.eventCount() == 2)
        #expect(try s.json("deposit", "a", "3")["balance"] as? String == "4.00")
        #expect(try s.run("verify").status == 0)
    }

    @Test func randomBadInputNeverCrashesAndAppendsNothing() throws {
        let seed = UInt64(ProcessInfo.processInfo.environment["LEDGER_FUZZ_SEED"] ?? "") ?? 2024
        let rounds = Int(ProcessInfo.processInfo.environment["LEDGER_FUZZ_ROUNDS"] ?? "") ?? 400
        var rng = SplitMix64(seed: seed)
        let s = CLIStore()
        try s.json("open", "a")
        try s.json("open", "b")
        try s.json("deposit", "a", "5")
        let commands = ["open", "close", "deposit", "withdraw", "transfer", "balance", "history", "log", "config", "reverse", "import", "export", "info", "verify", "snapshot", "bogus"]
        let atoms = ["a", "b", "zz", "", "-1", "0", "0.001", "1e9", "12.34", "99999999999999999999", "--at", "--id", "--memo",
                     "--as-of", "--at-position", "--expect-version", "--since", "--limit", "--format", "--json", "--currency", "--scale",
                     "2024-13-01", "2024-02-30T00:00:00Z", "not a time", "\u{00e9}", "x\ty", "--", "-", "--from-position", "csv", "NaN", "9223372036854775808"]
        for round in 0..<rounds {
            var args = [commands[Int.random(in: 0..<commands.count, using: &rng)]]
            for _ in 0..<Int.random(in: 0...4, using: &rng) { args.append(atoms[Int.random(in: 0..<atoms.count, using: &rng)]) }
            if args[0] == "import" || args[0] == "log" && args.contains("--follow") { args = Array(args.prefix(1)) + ["-"] }
            let before = try s.eventCount()
            var stdin = ""
            for _ in 0..<Int.random(in: 0...3, using: &rng) {
                let garbage = (0..<Int.random(in: 0...40, using: &rng)).map { _ in Character(Unicode.Scalar(UInt8.random(in: 0x20...0x7E, using: &rng))) }
                stdin += "{\"op\":\"deposit\",\"account\":\"a\",\"amount\":\"" + String(garbage) + "\n"
            }
            let r = try s.runArgs(args, stdin: stdin)
            #expect((0...5).contains(r.status), "seed \(seed) round \(round): \(args) exited \(r.status): \(r.stderr)")
            #expect(!r.stderr.contains("Program crashed") && !r.stderr.contains("Fatal error"), "seed \(seed) round \(round): \(args)")
            if r.status != 0 { #expect(try s.eventCount() == before, "seed \(seed) round \(round): \(args) appended after failing") }
        }
        #expect(try s.run("verify").status == 0)
        print("bad-input suite: seed \(seed), \(rounds) random command lines")
    }
}
