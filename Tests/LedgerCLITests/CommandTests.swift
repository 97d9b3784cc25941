import Foundation
import LedgerTestSupport
import Testing

@Suite struct CommandTests {
    @Test func openDepositWithdrawTransferBalanceHistoryLog() throws {
        let s = CLIStore()
        let opened = try s.json("open", "alice")
        #expect(opened["type"] as? String == "AccountOpened")
        #expect(opened["position"] as? Int == 1)
        #expect(opened["balance"] as? String == "0.00")
        #expect(opened["currency"] as? String == "USD")
        #expect(opened["version"] as? Int == 1)
        #expect(opened["duplicate"] as? Bool == false)
        try s.json("open", "bob", "--overdraft", "10")
        let dep = try s.json("deposit", "alice", "100.10", "--memo", "pay day")
        #expect(dep["amount"] as? String == "100.10")
        #expect(dep["balance"] as? String == "100.10")
        #expect(dep["version"] as? Int == 2)
        #expect(dep["account"] as? String == "alice")
        #expect(dep["memo"] as? String == "pay day")
        #expect((dep["timestamp"] as? String)?.hasSuffix("Z") == true)
        let t = try s.json("transfer", "alice", "bob", "50")
        #expect(t["from"] as? String == "alice")
        #expect(t["to"] as? String == "bob")
        #expect(t["from_balance"] as? String == "50.10")
        #expect(t["to_balance"] as? String == "50.00")
        #expect(t["from_version"] as? Int == 3)
        #expect(t["to_version"] as? Int == 2)
        let w = try s.json("withdraw", "bob", "60")
        #expect(w["balance"] as? String == "-10.00")

        let balance = try s.json("balance")
        #expect(balance["position"] as? Int == 5)
        #expect(balance["as_of"] is String)
        #expect(balance.keys.contains("snapshot_position") && balance["replayed"] is Int)
        let accounts = balance["accounts"] as? [[String: Any]] ?? []
        #expect(accounts.map { $0["account"] as? String } == ["alice", "bob"])
        #expect(accounts.map { $0["balance"] as? String } == ["50.10", "-10.00"])
        #expect(accounts.map { $0["version"] as? Int } == [3, 3])

        let history = try CLIStore.lines(try s.run("--json", "history", "alice").stdout)
        #expect(history.map { $0["type"] as? String } == ["AccountOpened", "MoneyDeposited", "MoneyTransferred"])
        #expect(history.map { $0["balance"] as? String } == ["0.00", "100.10", "50.10"])
        let limited = try CLIStore.lines(try s.run("--json", "history", "alice", "--limit", "2").stdout)
        #expect(limited.count == 2)

        let log = try CLIStore.lines(try s.run("log").stdout)
        #expect(log.map { $0["position"] as? Int } == [1, 2, 3, 4, 5])
        #expect(log[3]["amount"] as? String == "50.00")
        #expect(log[3]["currency"] as? String == "USD")
        let from4 = try CLIStore.lines(try s.run("log", "--from-position", "4").stdout)
        #expect(from4.map { $0["position"] as? Int } == [4, 5])

        // Human output: aligned table.
        let text = try s.run("balance").stdout
        #expect(text.contains("alice      50.10  USD"))
        #expect(try s.run("history", "bob").stdout.contains("from alice"))
    }

    @Test func textTablesAlignColumnsAndEndLinesWithoutSpaces() throws {
        let s = CLIStore()
        try s.json("open", "alice", "--at", "2024-03-01T09:00:00Z")
        try s.json("open", "bob_the_second", "--at", "2024-03-01T09:00:01Z")
        try s.json("deposit", "alice", "1234.5", "--memo", "café ☕", "--at", "2024-03-02T09:00:00Z")
        try s.json("transfer", "alice", "bob_the_second", "4.5", "--at", "2024-03-03T09:00:00Z")
        try s.json("withdraw", "bob_the_second", "4.5", "--at", "2024-03-04T09:00:00Z")
        try s.json("close", "bob_the_second", "--at", "2024-03-04T09:00:01Z")
        let balance = try s.run("balance", "--as-of", "2024-03-03")
        #expect(balance.status == 0)
        #expect(balance.stdout == """
            as of 2024-03-03T23:59:59.999999Z (position 4)
            ACCOUNT         BALANCE  CURRENCY  VERSION  STATUS
            alice           1230.00  USD             3
            bob_the_second     4.50  USD             2

            """)
        #expect(try s.run("balance", "bob_the_second").stdout.contains("bob_the_second     0.00  USD             4  closed\n"))
        // Right-aligned numbers, a non-ASCII memo in the last column (never padded).
        let history = try s.run("history", "alice")
        #expect(history.stdout == """
            POSITION  TIME                         EVENT              AMOUNT  BALANCE  DETAIL
                   1  2024-03-01T09:00:00.000000Z  AccountOpened                 0.00  opened
                   3  2024-03-02T09:00:00.000000Z  MoneyDeposited    1234.50  1234.50  café ☕
                   4  2024-03-03T09:00:00.000000Z  MoneyTransferred    -4.50  1230.00  to bob_the_second

            """)
        // Numbers of several digits (versions are written straight to bytes).
        for _ in 0..<8 { try s.json("deposit", "alice", "1") }
        #expect(try s.run("balance", "alice").stdout == """
            ACCOUNT  BALANCE  CURRENCY  VERSION  STATUS
            alice    1238.00  USD            11

            """)
    }

    @Test func exactDecimalsAndScales() throws {
        let s = CLIStore()
        try s.json("open", "a")
        try s.json("deposit", "a", "0.10")
        #expect(try s.json("deposit", "a", "0.20")["balance"] as? String == "0.30")
        try s.json("open", "yen", "--currency", "JPY", "--scale", "0")
        #expect(try s.json("deposit", "yen", "1500")["balance"] as? String == "1500")
        try s.fails(2, "usage", "deposit", "yen", "1.5")
        try s.json("open", "dinar", "--currency", "KWD", "--scale", "3")
        try s.json("deposit", "dinar", "0.001")
        #expect(try s.json("deposit", "dinar", "1.5")["balance"] as? String == "1.501")
        try s.fails(1, "currency_mismatch", "transfer", "a", "yen", "1")
    }

    @Test func overflowAtInt64EdgesIsARejection() throws {
        let s = CLIStore()
        try s.json("open", "big")
        #expect(try s.json("deposit", "big", "92233720368547758.07")["balance"] as? String == "92233720368547758.07")
        try s.fails(1, "balance_overflow", "deposit", "big", "0.01")
        try s.fails(2, "usage", "deposit", "big", "92233720368547758.08")
        try s.fails(2, "usage", "deposit", "big", "99999999999999999999")
        try s.json("open", "debt", "--overdraft", "92233720368547758.07")
        #expect(try s.json("withdraw", "debt", "92233720368547758.07")["balance"] as? String == "-92233720368547758.07")
        try s.fails(1, "insufficient_funds", "withdraw", "debt", "0.01")
    }

    @Test func everyBusinessRejectionHasItsCodeAndAppendsNothing() throws {
        let s = CLIStore()
        try s.json("open", "a")
        try s.json("open", "b", "--currency", "EUR")
        try s.json("open", "c")
        try s.json("deposit", "a", "5", "--id", "k1")
        try s.fails(1, "insufficient_funds", "withdraw", "a", "5.01")
        try s.fails(1, "unknown_account", "deposit", "zed", "1")
        try s.fails(1, "unknown_account", "balance", "zed")
        try s.fails(1, "unknown_account", "history", "zed")
        try s.fails(1, "account_exists", "open", "a")
        try s.fails(1, "currency_mismatch", "transfer", "a", "b", "1")
        try s.fails(1, "id_conflict", "deposit", "a", "6", "--id", "k1")
        try s.fails(1, "id_conflict", "withdraw", "a", "5", "--id", "k1")
        try s.fails(1, "time_before_last", "deposit", "a", "1", "--at", "2001-01-01T00:00:00Z")
        try s.fails(1, "balance_not_zero", "close", "a")
        try s.json("close", "c")
        try s.fails(1, "account_closed", "deposit", "c", "1")
        try s.fails(1, "account_closed", "close", "c")
        try s.fails(3, "version_conflict", "deposit", "a", "1", "--expect-version", "1")
        #expect(try s.json("deposit", "a", "1", "--expect-version", "2")["version"] as? Int == 3)
        try s.json("open", "d")
        try s.fails(3, "version_conflict", "transfer", "a", "d", "1", "--expect-version", "9")
    }

    @Test func usageErrorsExitTwoAndAppendNothing() throws {
        let s = CLIStore()
        try s.json("open", "a")
        for bad in ["-5", "0", "0.00", "1e3", "12.345", "abc", "", "1.", "99999999999999999999"] {
            try s.fails(2, "usage", "deposit", "a", bad)
        }
        try s.fails(2, "usage", "deposit", "a")
        try s.fails(2, "usage", "deposit", "a", "1", "extra")
        try s.fails(2, "usage", "deposit", "a", "1", "--bogus")
        try s.fails(2, "usage", "deposit", "a", "1", "--at", "yesterday")
        try s.fails(2, "usage", "deposit", "a", "1", "--expect-version", "-1")
        try s.fails(2, "usage", "open", "bad name")
        try s.fails(2, "usage", "open", "x", "--currency", "usd")
        try s.fails(2, "usage", "open", "x", "--scale", "19")
        try s.fails(2, "usage", "transfer", "a", "a", "1")
        try s.fails(2, "usage", "history", "a", "--since", "2024-13-01")
        try s.fails(2, "usage", "nonsense")
        try s.fails(2, "usage", "config", "no_such_key")
        try s.fails(2, "usage", "config", "default_scale", "99")
        let r = try s.run("deposit", "a", "abc")
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("ledger: bad amount 'abc'"))
        #expect(r.stderr.split(separator: "\n").count == 1)
    }

    @Test func idempotencyHoldsAcrossProcessesAndReportsTheOriginal() throws {
        let s = CLIStore()
        try s.json("open", "a")
        let first = try s.json("deposit", "a", "7.00", "--id", "inv-1", "--memo", "m")
        for _ in 0..<3 {
            let again = try s.json("deposit", "a", "7.00", "--id", "inv-1", "--memo", "m")
            #expect(again["duplicate"] as? Bool == true)
            #expect(again["position"] as? Int == first["position"] as? Int)
            #expect(again["timestamp"] as? String == first["timestamp"] as? String)
        }
        #expect(try s.eventCount() == 2)
        // Same id on an open is also idempotent.
        try s.json("open", "b", "--id", "open-b")
        #expect(try s.json("open", "b", "--id", "open-b")["duplicate"] as? Bool == true)
        // The id index survives being deleted: it is rebuilt from the log.
        try FileManager.default.removeItem(atPath: s.dir.path + "/views")
        #expect(try s.json("deposit", "a", "7.00", "--id", "inv-1", "--memo", "m")["duplicate"] as? Bool == true)
        #expect(try s.json("balance", "a")["accounts"].flatMap { ($0 as? [[String: Any]])?.first?["balance"] as? String } == "7.00")
    }

    @Test func atSetsTheTimestampAndTimeNeverGoesBackwards() throws {
        let s = CLIStore()
        let o = try s.json("open", "a", "--at", "2024-03-05T09:30:00+01:00")
        #expect(o["timestamp"] as? String == "2024-03-05T08:30:00.000000Z")
        // Equal to the last is allowed.
        try s.json("deposit", "a", "1", "--at", "2024-03-05T08:30:00Z")
        // A clock behind the last event yields last + 1 µs.
        s.environment["LEDGER_NOW_MICROS"] = "0"
        #expect(try s.json("deposit", "a", "1")["timestamp"] as? String == "2024-03-05T08:30:00.000001Z")
    }

    @Test func configReadsAndSets() throws {
        let s = CLIStore()
        #expect(try s.json("config")["default_currency"] as? String == "USD")
        try s.json("config", "default_currency", "EUR")
        try s.json("config", "default_scale", "3")
        #expect(try s.run("config", "default_currency").stdout == "EUR\n")
        let opened = try s.json("open", "x")
        #expect(opened["currency"] as? String == "EUR")
        #expect(opened["balance"] as? String == "0.000")
        #expect(try s.json("config", "segment_bytes", "4096")["segment_bytes"] as? Int == 4096)
    }

    @Test func smallSegmentsRollOverThroughTheCLI() throws {
        let s = CLIStore()
        try s.json("config", "segment_bytes", "300")
        try s.json("open", "a")
        for i in 1...12 { try s.json("deposit", "a", "\(i)") }
        let info = try s.json("info")
        #expect((info["segments"] as? [Any])?.count ?? 0 > 3)
        #expect(try s.json("balance", "a")["accounts"].flatMap { ($0 as? [[String: Any]])?.first?["balance"] as? String } == "78.00")
        #expect(try s.run("verify").status == 0)
    }

    @Test func commandsCheckASealedSegmentWhenTheyFirstReadIt() throws {
        let s = CLIStore()
        try s.json("config", "segment_bytes", "300")
        try s.json("open", "a")
        for i in 1...12 { try s.json("deposit", "a", "\(i)") }
        try s.json("replay")
        let segments = try FileManager.default.contentsOfDirectory(atPath: s.dir.path + "/log").filter { $0.hasSuffix(".seg") }.sorted()
        #expect(segments.count > 3)
        // A damaged index of the first (sealed) segment: reading through it notes the rebuild.
        FileDamage.flipBit(s.dir.path + "/log/" + segments[0].replacingOccurrences(of: ".seg", with: ".idx"), offset: 3)
        let early = try s.run("balance", "a", "--at-position", "2")
        #expect(early.status == 0 && early.stdout.contains("1.00"), "\(early.stdout)")
        #expect(early.stderr.contains("note:"), "\(early.stderr)")
        // A writer checks it the same way, and repairs it: a replay reads every segment, rebuilds
        // the index on disk with a note, and verify then finds nothing to say.
        let replay = try s.run("replay")
        #expect(replay.status == 0 && replay.stderr.contains("note:"), "\(replay.stderr)")
        #expect(try s.json("verify")["notes"] as? [String] == [])
        // A torn first segment: today's balance (views + last segment) still answers; reading the
        // torn segment is corruption (exit 4); verify and info check every segment.
        let first = s.dir.path + "/log/" + segments[0]
        FileDamage.truncate(first, to: FileDamage.size(first) - 10)
        #expect(try s.json("balance", "a")["accounts"].flatMap { ($0 as? [[String: Any]])?.first?["balance"] as? String } == "78.00")
        // A deposit appends after the last segment without reading the torn one.
        #expect(try s.run("deposit", "a", "1").status == 0)
        #expect(try s.json("balance", "a")["accounts"].flatMap { ($0 as? [[String: Any]])?.first?["balance"] as? String } == "79.00")
        for args in [["log"], ["verify"], ["info"], ["balance", "a", "--at-position", "2"], ["replay"]] {
            let r = try s.runArgs(args)
            #expect(r.status == 4, "\(args): \(r.stdout) \(r.stderr)")
        }
    }

    @Test func infoAndVerifyReportTheHead() throws {
        let s = CLIStore()
        #expect(try s.json("info")["head"] as? String == "0:" + String(repeating: "0", count: 64))
        try s.json("open", "a")
        let head = try s.json("info")["head"] as? String ?? ""
        #expect(head.hasPrefix("1:") && head.count == 66)
        let v = try s.json("verify", "--expect-head", head)
        #expect(v["ok"] as? Bool == true)
        #expect(v["expected_head_matched"] as? Bool == true)
        try s.json("deposit", "a", "1")
        #expect(try s.run("verify", "--expect-head", head).status == 0)
        let wrong = "1:" + String(repeating: "ab", count: 32)
        let bad = try s.run("--json", "verify", "--expect-head", wrong)
        #expect(bad.status == 4)
        #expect(try CLIStore.object(bad.stdout)["ok"] as? Bool == false)
        try s.fails(2, "usage", "verify", "--expect-head", "nonsense")
    }

    @Test func corruptionIsExitFourAndIOIsExitFive() throws {
        let s = CLIStore()
        try s.json("open", "a")
        try s.json("deposit", "a", "1")
        try s.json("deposit", "a", "2")
        let segment = s.dir.path + "/log/00000000000000000001.seg"
        FileDamage.flipBit(segment, offset: 32 + 12)
        let r = try s.run("log")
        #expect(r.status == 4)
        #expect(r.stderr.contains("position 1"))
        let v = try s.run("verify")
        #expect(v.status == 4)
        #expect(v.stdout.contains("00000000000000000001.seg"))
        try s.fails(4, "integrity", "deposit", "a", "1")

        let file = TemporaryDirectory()
        FileDamage.write([1, 2, 3], file.path + "/not-a-dir")
        let io = try Executables.run("ledger", ["--json", "--dir", file.path + "/not-a-dir", "open", "a"])
        #expect(io.status == 5)
        #expect(io.stderr.contains("\"code\":\"io\""))
    }

    @Test func streamedOutputKeepsWhatCameBeforeDamage() throws {
        // log and export write straight to stdout: a damaged record stops them with exit 4 and
        // its position, after every event before it.
        let s = CLIStore()
        try s.json("open", "a")
        try s.json("deposit", "a", "1")
        for _ in 0..<3 { try s.json("deposit", "a", "2") }
        // The views made durable through the head (else catching them up finds the damage
        // first); position 3 damaged, later batches intact: found as the log is read.
        try s.json("snapshot")
        let index = FileDamage.read(s.dir.path + "/log/00000000000000000001.idx")
        let offset = index[(2 * 32 + 16)..<(2 * 32 + 24)].reversed().reduce(0) { $0 << 8 | Int($1) }
        FileDamage.flipBit(s.dir.path + "/log/00000000000000000001.seg", offset: offset + 30)
        let before = [(["log"], #""amount":"1.00""#), (["export"], #""amount":"1.00""#),
                      (["export", "--format", "csv"], "deposit,a,,,1.00,"), (["export", "--format", "journal"], "assets:a  1.00 USD")]
        for (args, deposit) in before {
            let r = try s.runArgs(args)
            #expect(r.status == 4, "\(args)")
            #expect(r.stderr.contains("position 3"), "\(args): \(r.stderr)")
            #expect(r.stdout.contains(deposit), "\(args): \(r.stdout)")
            #expect(!r.stdout.contains("2.00"), "\(args): \(r.stdout)")
        }
        let log = try s.run("log").stdout
        #expect(log.split(separator: "\n").count == 2 && log.contains("\"amount\":\"1.00\""))
    }

    @Test func logFollowStreamsNewEvents() throws {
        let s = CLIStore()
        try s.json("open", "a")
        let follower = try Executables.start("ledger", ["--dir", s.dir.path, "log", "--follow"])
        usleep(300_000)
        try s.json("deposit", "a", "3")
        try s.json("deposit", "a", "4")
        usleep(500_000)
        kill(follower.process.processIdentifier, SIGINT)
        let out = follower.wait()
        let lines = try CLIStore.lines(out.stdout)
        #expect(lines.map { $0["position"] as? Int } == [1, 2, 3])
        #expect(lines.last?["amount"] as? String == "4.00")
    }

    @Test func helpForEveryCommand() throws {
        let s = CLIStore()
        let top = try s.run("--help")
        #expect(top.status == 0)
        for name in ["open", "close", "deposit", "withdraw", "transfer", "balance", "history", "log", "config", "info", "verify"] {
            #expect(top.stdout.contains("  \(name) "), "top help lists \(name)")
            let r = try s.run(name, "--help")
            #expect(r.status == 0)
            #expect(r.stdout.hasPrefix("usage: ledger \(name)"))
            #expect(r.stdout.contains("example"))
        }
        #expect(try s.run().status == 2)
    }

    @Test func storeResolutionPrefersDirThenEnvironment() throws {
        let a = TemporaryDirectory(), b = TemporaryDirectory()
        let viaEnv = try Executables.run("ledger", ["--json", "open", "x"], environment: ["LEDGER_DIR": a.path])
        #expect(viaEnv.status == 0)
        let viaFlag = try Executables.run("ledger", ["--json", "--dir", b.path, "open", "x"], environment: ["LEDGER_DIR": a.path])
        #expect(viaFlag.status == 0)
        #expect(FileManager.default.fileExists(atPath: a.path + "/log/00000000000000000001.seg"))
        #expect(FileManager.default.fileExists(atPath: b.path + "/log/00000000000000000001.seg"))
        let home = TemporaryDirectory()
        #expect(try Executables.run("ledger", ["open", "x"], environment: ["HOME": home.path]).status == 0)
        #expect(FileManager.default.fileExists(atPath: home.path + "/.ledger/log"))
        // LEDGER_FORMAT=json is --json.
        let r = try Executables.run("ledger", ["--dir", a.path, "balance"], environment: ["LEDGER_FORMAT": "json"])
        #expect(try CLIStore.object(r.stdout)["accounts"] != nil)
    }
}

@Suite struct PermissionTests {
    @Test func storeFilesAndDirectoriesAreOwnerOnly() throws {
        let s = CLIStore()
        let root = s.dir.path + "/store"
        for args in [["open", "a"], ["deposit", "a", "1"], ["snapshot"]] {
            #expect(try Executables.run("ledger", ["--dir", root] + args).status == 0, "\(args)")
        }
        let fm = FileManager.default
        for sub in ["", "/log", "/views", "/snapshots"] {
            let mode = (try fm.attributesOfItem(atPath: root + sub)[.posixPermissions] as? Int) ?? -1
            #expect(mode == 0o700, "\(root + sub) is \(String(mode, radix: 8))")
        }
        for dir in ["/log", "/views", "/snapshots"] {
            for name in try fm.contentsOfDirectory(atPath: root + dir) {
                let mode = (try fm.attributesOfItem(atPath: root + dir + "/" + name)[.posixPermissions] as? Int) ?? -1
                #expect(mode == 0o600, "\(dir)/\(name) is \(String(mode, radix: 8))")
            }
        }
        let lock = (try fm.attributesOfItem(atPath: root + "/LOCK")[.posixPermissions] as? Int) ?? -1
        #expect(lock == 0o600)
    }
}
