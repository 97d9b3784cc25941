import Foundation
@testable import LedgerStorage
import LedgerTestSupport
import Testing

/// Spilled runs of (key, value) pairs: a lookup finds every value of a key, in every run, also
/// when its pairs straddle blocks or fill several; keys that are absent find nothing.
@Suite struct KeyRunsTests {
    @Test func lookupsFindEveryValueInEveryRun() throws {
        let dir = TemporaryDirectory()
        let runs = KeyRuns(directory: dir.path)
        var rng = SplitMix64(seed: 21)
        var oracle: [UInt64: [UInt64]] = [:]
        var all: [UInt64] = []
        for size in [1, 255, 256, 257, 3000, 700] {
            // Few distinct keys in some runs (long stretches of equal keys across blocks).
            let distinct: UInt64 = size == 3000 ? 5 : 1_000
            let pairs = (0..<size).map { _ in (key: UInt64.random(in: 1...distinct, using: &rng) * 7, value: UInt64.random(in: 0...UInt64.max, using: &rng)) }
            let sorted = pairs.sorted { $0.key < $1.key }
            try sorted.withUnsafeBufferPointer { try runs.addRun(sorted: $0) }
            for p in pairs { oracle[p.key, default: []].append(p.value) }
            all += pairs.map(\.value)
        }
        #expect(runs.count == all.count)
        for key in Set(oracle.keys).union([0, 1, 8, 7_001, UInt64.max]) {
            var found: [UInt64] = []
            try runs.forEachValue(of: key) { found.append($0) }
            #expect(found.sorted() == (oracle[key] ?? []).sorted(), "key \(key)")
        }
        // Keys no run holds are answered by the filters, nearly always without a read.
        let before = runs.blockReads
        for k in 0..<10_000 as Range<UInt64> { try runs.forEachValue(of: k * 7 + 3) { _ in Issue.record("found an absent key") } }
        #expect(runs.blockReads - before < 6 * 10_000 / 20, "\(runs.blockReads - before) block reads for 60 000 absent lookups")
        var every: [UInt64] = []
        try runs.forEach { _, v in every.append(v) }
        #expect(every.sorted() == all.sorted())
        // No file is left with a name in the directory.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }
}
