import Foundation
import LedgerTestSupport
import Testing

@Suite struct SampleDataTests {
    static let sampleData = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("sample-data").path

    func balances(_ json: [String: Any]) -> [String: String] {
        var out: [String: String] = [:]
        for a in json["accounts"] as? [[String: Any]] ?? [] { out[a["account"] as? String ?? ""] = a["balance"] as? String }
        return out
    }

    @Test func generatorIsDeterministicAndSeeded() throws {
        let a = try Executables.run("ledger-sample", ["--seed", "7", "--accounts", "20", "--operations", "2000"])
        let b = try Executables.run("ledger-sample", ["--seed", "7", "--accounts", "20", "--operations", "2000"])
        let c = try Executables.run("ledger-sample", ["--seed", "8", "--accounts", "20", "--operations", "2000"])
        #expect(a.status == 0)
        #expect(a.stdout == b.stdout)
        #expect(a.stdout != c.stdout)
        #expect(a.stdout.split(separator: "\n").count == 2000)
    }

    @Test func committedSampleFilesAreTheGeneratorsOutput() throws {
        let dir = TemporaryDirectory()
        let r = try Executables.run("ledger-sample", ["--seed", "1", "--accounts", "50", "--operations", "5000", "--expect", dir.path + "/expected.json"])
        #expect(r.stdout == (try String(contentsOfFile: Self.sampleData + "/generated-5k.ndjson", encoding: .utf8)))
        #expect(FileDamage.read(dir.path + "/expected.json") == FileDamage.read(Self.sampleData + "/generated-5k.expected.json"))
    }

    @Test(arguments: [(1 as UInt64, 50, 5000), (99, 7, 3000)])
    func generatorsExpectedBalancesEqualLedgers(seed: UInt64, accounts: Int, operations: Int) throws {
        let s = CLIStore()
        let expectPath = s.dir.path + "-expected.json"
        defer { try? FileManager.default.removeItem(atPath: expectPath) }
        let ops = try Executables.run("ledger-sample", ["--seed", "\(seed)", "--accounts", "\(accounts)", "--operations", "\(operations)", "--expect", expectPath])
        #expect(try s.run("import", "-", stdin: ops.stdout).status == 0)
        let expected = try CLIStore.object(String(decoding: FileDamage.read(expectPath), as: UTF8.self))
        let final = expected["final"] as? [String: Any] ?? [:]
        let mid = expected["midpoint"] as? [String: Any] ?? [:]
        #expect(balances(try s.json("balance")) == final["balances"] as? [String: String])
        let asOf = try s.json("balance", "--as-of", mid["at"] as? String ?? "")
        #expect(asOf["position"] as? Int == mid["position"] as? Int)
        // Accounts not yet opened at the midpoint are absent there, as in the generator's map.
        #expect(balances(asOf) == mid["balances"] as? [String: String])
        #expect(try s.json("balance", "--at-position", "\(operations / 2)")["accounts"] as? NSArray == asOf["accounts"] as? NSArray)
    }

    @Test func storyBalancesAsDocumented() throws {
        let s = CLIStore()
        #expect(try s.run("import", Self.sampleData + "/story.ndjson").status == 0)
        #expect(balances(try s.json("balance")) == ["alice": "1854.50", "bob": "-44.49", "rent-pot": "0.00"])
        // Importing it again recognises every line.
        let again = try CLIStore.lines(try s.run("--json", "import", Self.sampleData + "/story.ndjson").stdout)
        #expect(again.last?["duplicates"] as? Int == 12)
    }
}
