import Foundation
@testable import LedgerStorage
import LedgerTestSupport
import Testing

/// The radix sort behind SlotTableWriter: the order of a stable comparison sort on the same
/// bits, for every size class (insertion sort, one pass, several passes, a partial last digit).
@Suite struct RadixSortTests {
    @Test(arguments: [0, 1, 2, 63, 64, 65, 1000, 50_000])
    func sortsLikeAStableSortOnTheSameBits(count: Int) {
        var rng = SplitMix64(seed: UInt64(count) + 1)
        for bits in [24..<45, 24..<35, 0..<64, 3..<9, 40..<41] {
            // Few distinct values on the sorted bits (many ties) and random bits elsewhere.
            let keys = (0..<count).map { _ in UInt64.random(in: 0...UInt64.max, using: &rng) & (UInt64.random(in: 0..<4, using: &rng) == 0 ? 0xFFFF_FF00_0000_FFFF : .max) }
            func field(_ k: UInt64) -> UInt64 { bits.count == 64 ? k : (k >> UInt64(bits.lowerBound)) & ((1 << UInt64(bits.count)) - 1) }
            // A stable reference: sort by (field, original index).
            let expected = keys.enumerated().sorted { (field($0.element), $0.offset) < (field($1.element), $1.offset) }.map(\.element)
            var got = keys
            RadixSort.sort(&got, bits: bits)
            #expect(got == expected, "count \(count), bits \(bits)")
        }
    }
}
