import Foundation
import LedgerTestSupport
import Testing

@Suite struct ViewTests {
    func populate(_ s: CLIStore) throws {
        try s.json("config", "snapshot_every", "5")
        for i in 0..<12 { try s.json("open", "acc\(i)", "--id", "open-\(i)") }
        for i in 0..<30 {
            try s.json("deposit", "acc\(i % 12)", "\(i + 1).25", "--id", "dep-\(i)")
            if i % 3 == 0 { try s.json("transfer", "acc\(i % 12)", "acc\((i + 5) % 12)", "1.00") }
        }
    }

    func viewBytes(_ s: CLIStore) -> [[UInt8]] {
        ["accounts.tbl", "ids.tbl", "history.tbl"].map { FileDamage.read(s.dir.path + "/views/" + $0) }
    }

    @Test func replayGivesByteIdenticalViews() throws {
        let s = CLIStore()
        try populate(s)
        // `snapshot` makes the incremental views durable through the head, as replay does.
        try s.json("snapshot")
        let incremental = viewBytes(s)
        #expect(incremental.allSatisfy { $0.count > 64 })
        let r = try s.json("replay")
        #expect(r["events"] as? Int == 12 + 30 + 10)
        let same = viewBytes(s) == incremental  // one Bool: describing large arrays in a failure takes minutes
        #expect(same)
    }

    @Test func replayOfOneViewRewritesOnlyThatOne() throws {
        let s = CLIStore()
        try populate(s)
        try s.json("replay")
        let full = viewBytes(s)
        let names = ["accounts", "ids", "history"]
        for (k, name) in names.enumerated() {
            // The other two are deleted first: a replay of one view leaves them as they are.
            for other in names where other != name { try FileManager.default.removeItem(atPath: s.dir.path + "/views/\(other).tbl") }
            try FileManager.default.removeItem(atPath: s.dir.path + "/views/\(name).tbl")
            let r = try s.json("replay", "--view", name)
            #expect(r["views"] as? [String] == [name] && r["events"] as? Int == 12 + 30 + 10)
            let present = names.filter { FileManager.default.fileExists(atPath: s.dir.path + "/views/\($0).tbl") }
            #expect(present == [name])
            let same = FileDamage.read(s.dir.path + "/views/\(name).tbl") == full[k]
            #expect(same, "\(name)")
            // Back to all three for the next round.
            try s.json("replay")
        }
        // An unknown view is a usage error that changes nothing.
        try s.fails(2, "usage", "replay", "--view", "balances")
        let untouched = viewBytes(s) == full
        #expect(untouched)
    }

    @Test func viewsKeptByImportsAndCommandsEqualReplayedOnes() throws {
        let s = CLIStore()
        var lines = ["{\"op\":\"open\",\"account\":\"x\",\"at\":\"2020-01-01T00:00:00Z\"}",
                     "{\"op\":\"open\",\"account\":\"y\",\"at\":\"2020-01-01T00:00:00Z\"}"]
        for i in 0..<3000 {
            let t = "2020-01-02T00:00:00.\(String(format: "%06d", i))Z"
            lines.append(i % 3 == 2 ? "{\"op\":\"transfer\",\"from\":\"x\",\"to\":\"y\",\"amount\":\"0.01\",\"at\":\"\(t)\"}"
                                    : "{\"op\":\"deposit\",\"account\":\"\(i % 2 == 0 ? "x" : "y")\",\"amount\":\"1.00\",\"at\":\"\(t)\",\"id\":\"d\(i)\"}")
        }
        #expect(try s.run("import", "-", stdin: lines.joined(separator: "\n")).status == 0)
        try populate(s)
        // An import that changes more accounts than it is worth writing one by one: the accounts
        // view is written again, new accounts and changed ones among untouched ones. Its 1600 ids
        // join the first import's 2000 in the ids view, written again from the union laid out in memory.
        var many = (0..<400).map { "{\"op\":\"open\",\"account\":\"b\($0)\"}" }
        many += (0..<400).map { "{\"op\":\"deposit\",\"account\":\"b\($0)\",\"amount\":\"\($0 + 1)\",\"id\":\"b\($0)\"}" }
        many += (0..<1200).map { "{\"op\":\"deposit\",\"account\":\"b\($0 % 400)\",\"amount\":\"0.01\",\"id\":\"c\($0)\"}" }
        // A reversal among them: its key (the position it undoes) joins the ids view the same way.
        many.append("{\"op\":\"reverse\",\"position\":10}")
        many.append("{\"op\":\"transfer\",\"from\":\"acc1\",\"to\":\"b7\",\"amount\":\"0.50\"}")
        #expect(try s.run("import", "-", stdin: many.joined(separator: "\n")).status == 0)
        #expect(try s.json("balance", "b7", "acc1")["accounts"].flatMap { ($0 as? [[String: Any]])?.compactMap { $0["balance"] as? String } } == ["8.53", "42.25"])
        try s.json("reverse", "3")
        try s.json("reverse", "4")
        #expect(try s.run("import", "-", stdin: "{\"op\":\"reverse\",\"position\":6}\n{\"op\":\"withdraw\",\"account\":\"y\",\"amount\":\"2\"}").status == 0)
        try s.json("snapshot")
        let kept = viewBytes(s)
        try s.json("replay")
        let sameAsKept = viewBytes(s) == kept
        #expect(sameAsKept)
        #expect(try s.run("verify").status == 0)
    }

    /// Views far behind the log (put back from 70 000 events earlier, as an import's views are
    /// while its batches become durable): a query answers from the newest snapshot and the log
    /// instead of folding every event over the views one by one, with the same balances; the
    /// next writer brings the views back and queries use them again.
    @Test func viewsFarBehindTheLogAreLeftForTheSnapshotAndTheLog() throws {
        let s = CLIStore()
        var lines = (0..<10).map { "{\"op\":\"open\",\"account\":\"a\($0)\"}" }
        lines += (0..<990).map { "{\"op\":\"deposit\",\"account\":\"a\($0 % 10)\",\"amount\":\"1.00\"}" }
        #expect(try s.run("import", "-", stdin: lines.joined(separator: "\n")).status == 0)
        let views = s.dir.path + "/views", early = s.dir.path + "/views-at-1000"
        try FileManager.default.copyItem(atPath: views, toPath: early)
        let more = (0..<70_000).map { "{\"op\":\"deposit\",\"account\":\"a\($0 % 10)\",\"amount\":\"0.0\($0 % 3 + 1)\"}" }
        #expect(try s.run("import", "-", stdin: more.joined(separator: "\n")).status == 0)
        let current = try s.json("balance")
        #expect(current["replayed"] as? Int == 0)
        func balances(_ answer: [String: Any]) -> [String] {
            (answer["accounts"] as? [[String: Any]] ?? []).map { "\($0["account"] ?? "") \($0["balance"] ?? "")" }
        }
        try FileManager.default.removeItem(atPath: views)
        try FileManager.default.moveItem(atPath: early, toPath: views)
        // The snapshot written at the end of the second import (every 10 000 events), and the log after it.
        let behind = try s.json("balance")
        #expect(balances(behind) == balances(current))
        let snapshot = behind["snapshot_position"] as? Int ?? 0
        #expect(snapshot >= 70_000 && behind["replayed"] as? Int == 71_000 - snapshot, "\(behind)")
        let one = try s.json("balance", "a3")
        #expect(balances(one) == balances(current).filter { $0.hasPrefix("a3 ") })
        #expect(one["snapshot_position"] as? Int == snapshot)
        // A writer brings the views to the head (their checkpoint moves every 64 events); queries
        // read them again.
        try s.json("deposit", "a0", "1.00")
        let after = try s.json("balance", "a3")
        #expect((after["replayed"] as? Int ?? 64) < 64 && (after["snapshot_position"] as? Int ?? 0) > 71_000 - 64, "\(after)")
        #expect(balances(after) == balances(one))
        #expect(try s.run("verify").status == 0)
    }

    /// Enough events for the balances to be replayed in parts (one a core, at least 65 536
    /// events each), accounts opened all along: the accounts view equals the one imports kept.
    @Test func replayOfTheBalancesInPartsGivesTheViewImportsKept() throws {
        let s = CLIStore()
        // a0 pays small amounts to the others; everyone gets deposits.
        var lines = ["{\"op\":\"open\",\"account\":\"a0\"}", "{\"op\":\"deposit\",\"account\":\"a0\",\"amount\":\"1000000\"}"]
        var opened = 1
        while lines.count < 140_000 {
            let i = lines.count
            if opened < 2 || i % 400 == 0 {
                lines.append("{\"op\":\"open\",\"account\":\"a\(opened)\"}")
                opened += 1
            } else if i % 5 == 0 {
                lines.append("{\"op\":\"transfer\",\"from\":\"a0\",\"to\":\"a\(1 + i % (opened - 1))\",\"amount\":\"0.0\(i % 9 + 1)\",\"id\":\"t\(i)\"}")
            } else {
                lines.append("{\"op\":\"deposit\",\"account\":\"a\(i % opened)\",\"amount\":\"\(i % 1000 + 1).\(i % 100)\"}")
            }
        }
        #expect(try s.run("import", "-", stdin: lines.joined(separator: "\n")).status == 0)
        try s.json("snapshot")
        let kept = FileDamage.read(s.dir.path + "/views/accounts.tbl")
        #expect(kept.count > 64)
        try FileManager.default.removeItem(atPath: s.dir.path + "/views/accounts.tbl")
        #expect(try s.json("replay", "--view", "accounts")["events"] as? Int == 140_000)
        let same = FileDamage.read(s.dir.path + "/views/accounts.tbl") == kept
        #expect(same)
        // On a terminal the parts report progress as they go (a pseudo-terminal from `script`).
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "util-linux's script (Debian: bsdutils, essential)")
        let r = try Executables.run("/usr/bin/script", ["-qec", "\(Executables.directory)/ledger --dir \(s.dir.path) replay --view accounts", "/dev/null"])
        #expect(r.status == 0)
        // A line on the way (the parts' total after 65 536 events or more), then the end.
        #expect(r.stdout.components(separatedBy: "replay: ").count >= 3 && r.stdout.contains("replay: 140000/140000 events (100%)"), "\(r.stdout)")
        let again = FileDamage.read(s.dir.path + "/views/accounts.tbl") == kept
        #expect(again)
    }

    @Test func anImportOverADamagedHistoryViewSucceedsAndTheViewIsRebuilt() throws {
        let s = CLIStore()
        try populate(s)
        try s.json("snapshot")
        // Damage every record: the import's history builder reads the touched accounts' last records.
        let path = s.dir.path + "/views/history.tbl"
        for offset in stride(from: 64 + 3, to: FileDamage.size(path), by: 84) { FileDamage.flipBit(path, offset: offset) }
        let r = try s.run("import", "-", stdin: "{\"op\":\"deposit\",\"account\":\"acc1\",\"amount\":\"5\"}\n{\"op\":\"transfer\",\"from\":\"acc1\",\"to\":\"acc2\",\"amount\":\"1\"}")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("history view"), "\(r.stderr)")
        #expect(try s.eventCount() == 12 + 30 + 10 + 2)
        // The next writer rebuilds the views; every answer is right again.
        #expect(try s.run("deposit", "acc3", "1").status == 0)
        #expect(try s.run("verify").status == 0)
        #expect(try s.json("balance", "acc1", "--at-position", "20")["accounts"] as? NSArray
                == (try s.json("balance", "--at-position", "20")["accounts"] as? [[String: Any]])?.filter { $0["account"] as? String == "acc1" } as NSArray?)
    }

    @Test func deletedOrDamagedViewsAreRebuiltWithTheSameAnswers() throws {
        let s = CLIStore()
        try populate(s)
        let before = try s.run("--json", "balance").stdout
        let beforeAsOf = try s.json("balance", "--at-position", "20")["accounts"] as? [[String: Any]]
        let beforeHistory = try s.run("--json", "history", "acc3", "--since", "2000-01-01").stdout
        let beforeLog = try s.run("log", "--from-position", "20").stdout
        try FileManager.default.removeItem(atPath: s.dir.path + "/views")
        // Without views, history and the feed answer from snapshots and the log, identically.
        #expect(try s.run("--json", "history", "acc3", "--since", "2000-01-01").stdout == beforeHistory)
        #expect(try s.run("log", "--from-position", "20").stdout == beforeLog)
        try s.fails(1, "unknown_account", "history", "nobody")
        // Readers fold the log when there are no views.
        #expect(try CLIStore.object(try s.run("--json", "balance").stdout)["accounts"] as? NSArray
                == CLIStore.object(before)["accounts"] as? NSArray)
        try s.json("replay")
        #expect(try CLIStore.object(try s.run("--json", "balance").stdout)["accounts"] as? NSArray
                == CLIStore.object(before)["accounts"] as? NSArray)
        // A damaged view is rebuilt by the next writer and reported.
        FileDamage.flipBit(s.dir.path + "/views/accounts.tbl", offset: 30)
        let dep = try s.run("deposit", "acc1", "1")
        #expect(dep.status == 0)
        #expect(dep.stderr.contains("note:"))
        #expect((try s.json("balance", "--at-position", "20")["accounts"] as? NSArray) == beforeAsOf as NSArray?)
    }

    @Test func oneAccountAsOfComesFromTheHistoryViewAndSurvivesItsDamage() throws {
        let s = CLIStore()
        try populate(s)
        let head = try s.json("balance")["position"] as? Int ?? 0
        var expected: [Int: NSArray] = [:]
        for position in [0, 5, 13, 20, 27, 33, 41, head] {
            // All accounts (snapshots + log) is the reference for the named answers.
            let all = try s.json("balance", "--at-position", "\(position)")["accounts"] as? [[String: Any]] ?? []
            let named = try s.json("balance", "acc3", "acc8", "--at-position", "\(position)")
            let names = Set((named["accounts"] as? [[String: Any]] ?? []).compactMap { $0["account"] as? String })
            #expect(names == ["acc3", "acc8"])
            for a in named["accounts"] as? [[String: Any]] ?? [] {
                let reference = all.first { $0["account"] as? String == a["account"] as? String }
                #expect(a["balance"] as? String == (reference?["balance"] as? String ?? "0.00"), "position \(position): \(a)")
                #expect(a["version"] as? Int == (reference?["version"] as? Int ?? 0), "position \(position): \(a)")
            }
            if position < head {
                #expect(named["snapshot_position"] is NSNull && named["replayed"] as? Int == 0, "position \(position): not from the history view")
            }
            expected[position] = named["accounts"] as? NSArray
        }
        // Damaged history: answered from snapshots and the log (same answers), reported, then rebuilt by the next writer.
        let path = s.dir.path + "/views/history.tbl"
        for offset in stride(from: 64 + 10, to: FileDamage.size(path), by: 84 * 7) { FileDamage.flipBit(path, offset: offset) }
        for (position, accounts) in expected where position < head {
            let r = try s.run("--json", "balance", "acc3", "acc8", "--at-position", "\(position)")
            #expect(r.status == 0)
            #expect(try CLIStore.object(r.stdout)["accounts"] as? NSArray == accounts, "position \(position)")
        }
        #expect(try s.run("verify").status != 0)
        try s.json("replay")
        #expect(try s.run("verify").status == 0)
        FileManager.default.createFile(atPath: path, contents: Data("garbage".utf8))
        #expect(try s.run("deposit", "acc1", "1").stderr.contains("note:"))
        #expect(try s.run("verify").status == 0)
        #expect(try s.json("balance", "acc3", "acc8", "--at-position", "20")["accounts"] as? NSArray == expected[20])
    }

    @Test func damagedSnapshotsAreReportedAndSkipped() throws {
        let s = CLIStore()
        try populate(s)
        let snaps = try FileManager.default.contentsOfDirectory(atPath: s.dir.path + "/snapshots").filter { $0.hasSuffix(".snap") }.sorted()
        #expect(snaps.count >= 5)
        let expected = try s.json("balance", "--at-position", "37")
        #expect(expected["snapshot_position"] as? Int == 35)
        for name in snaps { FileDamage.flipBit(s.dir.path + "/snapshots/" + name, offset: 100) }
        let r = try s.run("--json", "balance", "--at-position", "37")
        #expect(r.status == 0)
        #expect(r.stderr.contains("damaged"))
        let after = try CLIStore.object(r.stdout)
        #expect(after["snapshot_position"] is NSNull)
        #expect(after["accounts"] as? NSArray == expected["accounts"] as? NSArray)
        // replay --snapshots writes good ones again.
        try s.json("replay", "--snapshots")
        #expect(try s.json("balance", "--at-position", "37")["snapshot_position"] as? Int == 35)
    }

    @Test func snapshotRetentionKeepsNewestAndEveryFifth() throws {
        let s = CLIStore()
        try s.json("config", "snapshot_every", "2")
        try s.json("open", "a")
        for _ in 0..<59 { try s.json("deposit", "a", "1") }
        let positions = (try s.json("info")["snapshots"] as? [[String: Any]] ?? []).compactMap { $0["position"] as? Int }
        // 30 multiples of 2; kept: the newest 10 (42...60) and multiples of 5 × 2.
        #expect(positions == [10, 20, 30, 40, 42, 44, 46, 48, 50, 52, 54, 56, 58, 60])
    }

    @Test func asOfThroughTheCLI() throws {
        let s = CLIStore()
        try s.json("open", "a", "--at", "2024-03-01T09:00:00Z")
        try s.json("deposit", "a", "10", "--at", "2024-03-02T09:00:00Z")
        try s.json("deposit", "a", "5", "--at", "2024-03-03T09:00:00Z")
        let r = try s.json("balance", "a", "--as-of", "2024-03-02")
        #expect(r["as_of"] as? String == "2024-03-02T23:59:59.999999Z")
        #expect(r["position"] as? Int == 2)
        #expect((r["accounts"] as? [[String: Any]])?.first?["balance"] as? String == "10.00")
        #expect(try s.json("balance", "--as-of", "2024-02-01T00:00:00Z")["accounts"] as? [Any] != nil)
        #expect((try s.json("balance", "--as-of", "2024-02-01T00:00:00Z")["accounts"] as? [Any])?.isEmpty == true)
        try s.fails(2, "usage", "balance", "--as-of", "2024-03-02", "--at-position", "1")
        try s.fails(2, "usage", "balance", "--as-of", "March")
        let h = try CLIStore.lines(try s.run("--json", "history", "a", "--since", "2024-03-03").stdout)
        #expect(h.map { $0["balance"] as? String } == ["15.00"])
    }
}
