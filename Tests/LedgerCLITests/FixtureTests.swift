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

    @Test func formatV1StoreReadsAndBalancesIdentically() throws {
        let s = try copyOfFixture("store-v1")
        // Includes AccountOpened v1 (no overdraft), upcast to v2 with overdraft 0.
        let expectedLog = try String(contentsOfFile: Bundle.module.path(forResource: "Fixtures/store-v1.log", ofType: "ndjson")!, encoding: .utf8)
        #expect(try s.run("log").stdout == expectedLog)
        let balance = try s.json("balance")
        let accounts = balance["accounts"] as? [[String: Any]] ?? []
        #expect(accounts.map { $0["account"] as? String } == ["alice", "bob", "legacy"])
        #expect(accounts.map { $0["balance"] as? String } == ["74.25", "-44.25", "0.00"])
        #expect(accounts.map { $0["version"] as? Int } == [3, 3, 4])
        #expect(try s.json("info")["head"] as? String == "9:c4edc26dbacd1efdd488f10217a1c2ac39595b7a9f5b197ed9f3a774aacccab3")
        #expect(try s.run("verify", "--expect-head", "9:c4edc26dbacd1efdd488f10217a1c2ac39595b7a9f5b197ed9f3a774aacccab3").status == 0)
        // And it keeps working: new events append after the old ones.
        try s.fails(1, "account_closed", "deposit", "legacy", "1")
        #expect(try s.json("deposit", "alice", "0.75")["balance"] as? String == "75.00")
    }
}
