import Foundation
import LedgerTestSupport
import Testing

/// Stores written by earlier formats must read identically forever.
@Suite struct FixtureTests {
    func copyOfFixture(_ name: String) throws -> CLIStore {
        let s = CLIStore()
        guard let source = Bundle.module.path(forResource: "Fixtures/\(name)", ofType: nil) else {
            throw CLIStore.CLIError.notAnObject("fixture \(name) missing")
        }
        try FileManager.default.removeItem(atPath: s.dir.path)
        try FileManager.default.copyItem(atPath: source, toPath: s.dir.path)
        return s
    }

    /// The fixture's log, balances and head read as recorded, verify passes, a replay (the fold
    /// over its events) gives the same balances, and new events append after the old ones.
    func check(_ name: String, head: String, balances: [String], versions: [Int]) throws {
        let s = try copyOfFixture(name)
        let expectedLog = try String(contentsOfFile: Bundle.module.path(forResource: "Fixtures/\(name).log", ofType: "ndjson")!, encoding: .utf8)
        #expect(try s.run("log").stdout == expectedLog)
        func checkBalances() throws {
            let accounts = try s.json("balance")["accounts"] as? [[String: Any]] ?? []
            #expect(accounts.map { $0["account"] as? String } == ["alice", "bob", "legacy"])
            #expect(accounts.map { $0["balance"] as? String } == balances)
            #expect(accounts.map { $0["version"] as? Int } == versions)
        }
        try checkBalances()
        #expect(try s.json("info")["head"] as? String == head)
        #expect(try s.run("verify", "--expect-head", head).status == 0)
        #expect(try s.run("replay").status == 0)
        try checkBalances()
        // And it keeps working: new events append after the old ones, and the store still verifies.
        try s.fails(1, "account_closed", "deposit", "legacy", "1")
        #expect(try s.json("deposit", "alice", "0.75")["balance"] as? String == "75.00")
        #expect(try s.run("verify").status == 0)
        #expect(try s.run("replay").status == 0)
        #expect(try s.json("balance", "alice")["accounts"].flatMap { ($0 as? [[String: Any]])?.first?["balance"] as? String } == "75.00")
    }

    /// Segment format 1, AccountOpened v1 and v2, every other event type in its v1 layout (names alone).
    @Test func formatV1StoreReadsAndBalancesIdentically() throws {
        // Includes AccountOpened v1 (no overdraft), upcast to v2 with overdraft 0.
        try check("store-v1", head: "9:c4edc26dbacd1efdd488f10217a1c2ac39595b7a9f5b197ed9f3a774aacccab3",
                  balances: ["74.25", "-44.25", "0.00"], versions: [3, 3, 4])
    }

    /// The same story in the v2 layouts (accounts written with their numbers), plus a reversal.
    @Test func formatV2StoreReadsAndBalancesIdentically() throws {
        try check("store-v2", head: "10:9030ee33f40fc3b6000c23f4762fdc83e36558dea1ec72a6ab86b319c075055c",
                  balances: ["74.25", "25.75", "0.00"], versions: [3, 4, 4])
    }
}
