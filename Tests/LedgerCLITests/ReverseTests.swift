import Foundation
import LedgerTestSupport
import Testing

@Suite struct ReverseTests {
    func balance(_ s: CLIStore, _ account: String) throws -> String? {
        try s.json("balance", account)["accounts"].flatMap { ($0 as? [[String: Any]])?.first?["balance"] as? String }
    }

    @Test func reversesDepositsWithdrawalsAndTransfersOnce() throws {
        let s = CLIStore()
        try s.json("open", "a")
        try s.json("open", "b")
        try s.json("deposit", "a", "10")          // 3
        try s.json("transfer", "a", "b", "4")     // 4
        try s.json("withdraw", "b", "1")          // 5
        let r5 = try s.json("reverse", "5", "--memo", "bank error")
        #expect(r5["type"] as? String == "MoneyReversed")
        #expect(r5["reverses"] as? Int == 5)
        #expect(r5["to"] as? String == "b")
        #expect(r5["balance"] as? String == "4.00")
        #expect(try balance(s, "b") == "4.00")
        let r4 = try s.json("reverse", "4")
        #expect(r4["from"] as? String == "b" && r4["to"] as? String == "a")
        #expect(r4["from_balance"] as? String == "0.00" && r4["to_balance"] as? String == "10.00")
        try s.json("reverse", "3")
        #expect(try balance(s, "a") == "0.00")
        // Twice: rejected, nothing appended.
        try s.fails(1, "already_reversed", "reverse", "4")
        try s.fails(1, "already_reversed", "reverse", "3")
        try s.fails(1, "not_reversible", "reverse", "1")
        try s.fails(1, "not_reversible", "reverse", "6")
        try s.fails(2, "usage", "reverse", "99")
        try s.fails(2, "usage", "reverse", "0")
        try s.fails(2, "usage", "reverse", "x")
        // The log still holds the originals, untouched.
        let log = try CLIStore.lines(try s.run("log").stdout)
        #expect(log.map { $0["type"] as? String }.suffix(6) == ["MoneyDeposited", "MoneyTransferred", "MoneyWithdrawn", "MoneyReversed", "MoneyReversed", "MoneyReversed"])
        #expect(try s.run("verify").status == 0)
        // History shows the compensating events with the running balance.
        let h = try CLIStore.lines(try s.run("--json", "history", "b").stdout)
        #expect(h.map { $0["balance"] as? String } == ["0.00", "4.00", "3.00", "4.00", "0.00"])
    }

    @Test func aReversalThatBreaksAnInvariantIsRejected() throws {
        let s = CLIStore()
        try s.json("open", "a")
        try s.json("open", "b")
        try s.json("deposit", "a", "10")
        try s.json("transfer", "a", "b", "10")
        try s.json("withdraw", "b", "10")
        try s.fails(1, "insufficient_funds", "reverse", "4")
        try s.json("open", "c")
        try s.json("deposit", "c", "1")
        try s.json("withdraw", "c", "1")
        try s.json("close", "c")
        try s.fails(1, "account_closed", "reverse", "8")
    }

    @Test func reverseIsIdempotentWithAnID() throws {
        let s = CLIStore()
        try s.json("open", "a")
        try s.json("deposit", "a", "3")
        let first = try s.json("reverse", "2", "--id", "undo-2")
        let again = try s.json("reverse", "2", "--id", "undo-2")
        #expect(again["duplicate"] as? Bool == true)
        #expect(again["position"] as? Int == first["position"] as? Int)
        try s.fails(1, "id_conflict", "deposit", "a", "1", "--id", "undo-2")
    }

    @Test func reversalsSurviveReplayAsOfAndExportImport() throws {
        let s = CLIStore()
        try s.json("config", "snapshot_every", "3")
        try s.json("open", "a", "--at", "2024-01-01T00:00:00Z")
        try s.json("deposit", "a", "5", "--at", "2024-01-02T00:00:00Z")
        try s.json("deposit", "a", "7", "--at", "2024-01-03T00:00:00Z")
        try s.json("reverse", "2", "--at", "2024-01-04T00:00:00Z")
        try s.json("deposit", "a", "1", "--at", "2024-01-05T00:00:00Z")
        #expect(try s.json("balance", "--as-of", "2024-01-03")["accounts"].flatMap { ($0 as? [[String: Any]])?.first?["balance"] as? String } == "12.00")
        #expect(try s.json("balance", "--as-of", "2024-01-04")["accounts"].flatMap { ($0 as? [[String: Any]])?.first?["balance"] as? String } == "7.00")
        try s.json("snapshot")
        let views = ["accounts.tbl", "ids.tbl"].map { FileDamage.read(s.dir.path + "/views/" + $0) }
        try s.json("replay")
        #expect(["accounts.tbl", "ids.tbl"].map { FileDamage.read(s.dir.path + "/views/" + $0) } == views)
        try s.fails(1, "already_reversed", "reverse", "2")
        // export → import reproduces the reversal (it refers to a position of the same import).
        let t = CLIStore()
        #expect(try t.run("import", "-", stdin: try s.run("export").stdout).status == 0)
        #expect(try t.run("log").stdout == s.run("log").stdout)
        try t.fails(1, "already_reversed", "reverse", "2")
        // An import reversing the same position twice is rejected at that line.
        let u = CLIStore()
        let twice = try s.run("export").stdout + "{\"op\":\"reverse\",\"position\":2}\n"
        let r = try u.run("import", "-", stdin: twice)
        #expect(r.status == 1)
        #expect(r.stderr.contains("line 6:") && r.stderr.contains("already reversed"))
        #expect(try u.eventCount() == 0)
    }
}
