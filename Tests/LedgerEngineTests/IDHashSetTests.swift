@testable import LedgerEngine
import LedgerTestSupport
import Testing

/// An import's own idempotency keys: a flat table in kernel-zeroed memory that grows by
/// doubling, keeps every (hash, position) pair (hashes may repeat), behaves as a value
/// (a copy is not changed by inserts into the original), and drains sorted.
@Suite struct IDHashSetTests {
    @Test func aSetMadeForNKeysHoldsThemWithoutGrowing() {
        for n in [1, 1000, 1024, 5000, 100_000] {
            var set = IDHashSet(minimumCapacity: n)
            let capacity = set.capacity
            for position in UInt64(1)...UInt64(n) { set.insert(position &* 0x9E37_79B9_7F4A_7C15 | 1, position: position) }
            #expect(set.capacity == capacity, "\(n) keys")
            #expect(set.count == n)
            // At most 75 % full, and not larger than twice what that needs.
            #expect(capacity * 3 >= n * 4 && (capacity <= 1024 || capacity * 3 < n * 8), "\(n) keys in \(capacity) slots")
        }
    }

    @Test func keepsEveryPairAcrossGrowthAndActsAsAValue() {
        var rng = SplitMix64(seed: 5)
        var set = IDHashSet(minimumCapacity: 16)
        var oracle: [UInt64: [UInt64]] = [:]
        var hashes: [UInt64] = []
        var snapshot: IDHashSet?
        var snapshotOracle: [UInt64: [UInt64]] = [:]
        // Past several doublings (1024 slots at first; 120 k keys need 256 k slots and 4 MiB,
        // so the last tables ask for huge pages), with some hashes repeated.
        for position in UInt64(1)...120_000 {
            let hash = position % 7 == 0 ? hashes.randomElement(using: &rng)! : UInt64.random(in: 1...UInt64.max, using: &rng)
            if oracle[hash] == nil { hashes.append(hash) }
            set.insert(hash, position: position)
            oracle[hash, default: []].append(position)
            if position == 50_000 {
                snapshot = set
                snapshotOracle = oracle
            }
        }
        #expect(set.count == 120_000)
        for (hash, positions) in oracle {
            var seen: [UInt64] = []
            set.positions(hash) { seen.append($0) }
            #expect(seen.sorted() == positions.sorted())
            #expect(set.holds(hash))
        }
        var absent = UInt64(1)
        while oracle[absent] != nil { absent += 1 }
        #expect(!set.holds(absent))
        var none = 0
        set.positions(absent) { _ in none += 1 }
        #expect(none == 0)

        // The copy taken at 50 k keys still holds exactly those.
        let copy = snapshot!
        #expect(copy.count == 50_000)
        var copied: [UInt64: [UInt64]] = [:]
        copy.forEach { copied[$0, default: []].append($1) }
        #expect(copied.mapValues { $0.sorted() } == snapshotOracle.mapValues { $0.sorted() })

        // Drained: sorted by hash, every pair once, then empty and usable again.
        var drained: [(hash: UInt64, position: UInt64)] = []
        set.drainSorted { drained = Array($0) }
        #expect(drained.count == 120_000)
        #expect(zip(drained, drained.dropFirst()).allSatisfy { $0.hash <= $1.hash })
        #expect(Dictionary(grouping: drained, by: \.hash).mapValues { $0.map(\.position).sorted() } == oracle.mapValues { $0.sorted() })
        #expect(set.count == 0)
        var left = 0
        set.forEach { _, _ in left += 1 }
        #expect(left == 0)
        set.insert(42, position: 7)
        var again: [UInt64] = []
        set.positions(42) { again.append($0) }
        #expect(again == [7])
        // The copy is untouched by the drain.
        #expect(copy.count == 50_000)
        var stillThere = 0
        copy.forEach { _, _ in stillThere += 1 }
        #expect(stillThere == 50_000)
    }
}
