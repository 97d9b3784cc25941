import Foundation
import LedgerDomain
@testable import LedgerEngine
import LedgerStorage
import LedgerTestSupport
import Testing

/// An import decides every line as the single commands would: the same events byte for byte,
/// the same rejections, the same duplicates. Random histories full of lines that fail (unknown
/// and closed accounts, too many decimals, overdrafts, overflow, currency mismatches, reused
/// ids, reversals of anything, times that go back), run through `import --continue-on-error`
/// and through `append` one line at a time.
@Suite struct ImportEquivalenceTests {
    struct Line {
        let json: String
        let request: AppendRequest
    }

    static func randomLines(_ count: Int, seed: UInt64) throws -> [Line] {
        var rng = SplitMix64(seed: seed)
        func pick<T>(_ xs: [T]) -> T { xs[Int.random(in: 0..<xs.count, using: &rng)] }
        func chance(_ percent: Int) -> Bool { Int.random(in: 0..<100, using: &rng) < percent }
        let names = ["a", "b", "c", "d", "e", "acc:long/name-with.dots_0123456789"]
        let amounts = ["1", "0.5", "2", "7.25", "100", "12", "0.05", "0.001", "92233720368547758.07", "9223372036854775807"]
        var lines: [Line] = []
        var micros: Int64 = 1_700_000_000_000_000
        for n in 0..<count {
            micros += chance(3) ? -5_000_000 : 1_000_000
            var fields: [(String, String)] = []
            let command: Command
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<12:
                let name = pick(names), currency = chance(80) ? "USD" : "EUR", scale = chance(80) ? 2 : 0
                let overdraft = chance(20) ? "5" : nil
                fields = [("op", "open"), ("account", name), ("currency", currency), ("scale", String(scale))]
                if let overdraft { fields.append(("overdraft", overdraft)) }
                command = .open(account: try AccountID(validating: name), currency: try Currency(validating: currency), scale: scale,
                                overdraft: try overdraft.map(DecimalText.parse))
            case 12..<40:
                let name = pick(names), amount = chance(70) ? "100" : pick(amounts)
                fields = [("op", "deposit"), ("account", name), ("amount", amount)]
                command = .deposit(account: try AccountID(validating: name), amount: try DecimalText.parse(amount))
            case 40..<60:
                let name = pick(names), amount = pick(amounts)
                fields = [("op", "withdraw"), ("account", name), ("amount", amount)]
                command = .withdraw(account: try AccountID(validating: name), amount: try DecimalText.parse(amount))
            case 60..<88:
                let from = pick(names)
                var to = pick(names)
                while to == from { to = pick(names) }
                let amount = pick(amounts)
                fields = [("op", "transfer"), ("from", from), ("to", to), ("amount", amount)]
                command = .transfer(from: try AccountID(validating: from), to: try AccountID(validating: to), amount: try DecimalText.parse(amount))
            case 88..<91:
                let name = pick(names)
                fields = [("op", "close"), ("account", name)]
                command = .close(account: try AccountID(validating: name))
            default:
                let p = UInt64(Int.random(in: 1...(n + 2), using: &rng))
                fields = [("op", "reverse"), ("position", String(p))]
                command = .reverse(position: p)
            }
            var options = CommandOptions()
            if chance(30) {
                let id = pick(["k1", "k2", "k3", "k\(n)"])
                fields.append(("id", id))
                options.metadata.id = id
            }
            if chance(10) {
                fields.append(("memo", "m"))
                options.metadata.memo = "m"
            }
            fields.append(("at", Timestamp(micros: micros).rfc3339))
            let json = "{" + fields.map { "\"\($0.0)\":\"\($0.1)\"" }.joined(separator: ",") + "}"
            lines.append(Line(json: json, request: AppendRequest(command: command, options: options, at: Timestamp(micros: micros))))
        }
        return lines
    }

    static func code(_ error: Error) -> String {
        switch error as? LedgerError {
        case .usage?: return "usage"
        case .rejected(let code, _)?, .conflict(let code, _)?: return code
        default: return "other: \(error)"
        }
    }

    /// Every record of the log at `dir`: position, time, type, version and payload.
    static func records(_ dir: String) throws -> [String] {
        var out: [String] = []
        try Log.open(directory: dir + "/log").forEach(from: 1) { r in
            out.append("\(r.position) \(r.timestampMicros) \(r.type) \(r.schemaVersion) \(Array(r.payload))")
            return true
        }
        return out
    }

    /// With the default key memory, and with 5 keys in memory (the rest spilled in runs of 5:
    /// repeated ids found on disk).
    /// Every (key, position) of the ids view at `dir` (idempotency keys and reversals).
    static func idsEntries(_ dir: String) throws -> [String] {
        guard let table = try SlotTable.open(path: Views.idsPath(StoreLayout(root: dir)), keyBytesMax: 8, valueBytes: 0, writable: false) else {
            return []
        }
        var out: [String] = []
        try table.forEachSlot { out.append("\($0.key) \($0.appliedPosition)") }
        return out.sorted()
    }

    @Test(arguments: [1 as UInt64, 2, 3, 4, 5, 6], [Ledger.importKeysInMemoryMax, 5])
    func anImportDecidesEveryLineAsSingleCommandsWould(seed: UInt64, keysInMemory: Int) throws {
        let lines = try Self.randomLines(600, seed: seed)

        let single = TemporaryDirectory()
        let one = Ledger(layout: StoreLayout(root: single.path), clock: .fixed(0))
        var expectedRejections: [String] = []
        var expectedDuplicates = 0
        for (k, line) in lines.enumerated() {
            do {
                if try one.append(line.request).duplicate { expectedDuplicates += 1 }
            } catch {
                expectedRejections.append("\(k + 1) \(Self.code(error))")
            }
        }

        let imported = TemporaryDirectory()
        let bulk = Ledger(layout: StoreLayout(root: imported.path), clock: .fixed(0))
        let input = Array(lines.map(\.json).joined(separator: "\n").utf8)
        var offset = 0
        var rejections: [String] = []
        // Read in small pieces: lines cross the reader's chunks.
        let summary = try bulk.importOperations(reading: { buffer in
            let n = min(buffer.count, input.count - offset, 97)
            input.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + n)])) }
            offset += n
            return n
        }, format: .ndjson, continueOnError: true, keysInMemoryMax: keysInMemory,
           // Odd seeds say how large the input is (the key set then starts at its expected size).
           inputBytes: seed % 2 == 1 ? input.count * 100 : nil, committed: { _, _ in }, rejected: { line, error in
            rejections.append("\(line) \(Self.code(error))")
        })

        if let k = (0...max(rejections.count, expectedRejections.count)).first(where: { rejections.dropFirst($0).first != expectedRejections.dropFirst($0).first }) {
            Issue.record("seed \(seed): rejections differ from #\(k): import \(rejections.dropFirst(k).prefix(3)), single \(expectedRejections.dropFirst(k).prefix(3))")
        }
        #expect(summary.duplicates == expectedDuplicates, "seed \(seed), \(keysInMemory) keys in memory")
        #expect(summary.rejected == expectedRejections.count)
        let expected = try Self.records(single.path), got = try Self.records(imported.path)
        #expect(got.count == expected.count, "seed \(seed), \(keysInMemory) keys in memory")
        for (e, g) in zip(expected, got) where e != g {
            Issue.record("seed \(seed): first difference\n  single: \(e)\n  import: \(g)")
            break
        }
        // The ids view holds the same keys (spilled or not) at the same positions.
        let sameKeys = try Self.idsEntries(imported.path) == Self.idsEntries(single.path)
        #expect(sameKeys, "seed \(seed), \(keysInMemory) keys in memory")
        // Both kinds of lines were exercised: accepted money lines and rejected ones.
        #expect(got.count > 100 && expectedRejections.count > 50, "seed \(seed): \(got.count) events, \(expectedRejections.count) rejections")
    }
}
