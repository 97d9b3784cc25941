import Foundation
@testable import LedgerStorage
import LedgerTestSupport
import Testing

/// An import's own idempotency keys: a flat table in kernel-zeroed memory that grows by
/// doubling, keeps every (key, position) pair (keys may repeat), behaves as a value (a copy
/// is not changed by inserts into the original), drains sorted, and holds its entries laid
/// out as the ids view's SlotTable does, so that the view is written from it slot by slot.
@Suite struct KeyTableTests {
    @Test func aTableMadeForNKeysHoldsThemWithoutGrowing() {
        for n in [1, 1000, 1024, 5000, 100_000] {
            var table = KeyTable(minimumCapacity: n)
            let capacity = table.capacity
            for position in UInt64(1)...UInt64(n) { table.insert(position &* 0x9E37_79B9_7F4A_7C15 | 1, position: position) }
            #expect(table.capacity == capacity, "\(n) keys")
            #expect(table.count == n)
            // The capacity a SlotTable of n entries has: at most 70 % full, no larger than that needs.
            #expect(capacity == SlotTable.capacityFor(count: n), "\(n) keys in \(capacity) slots")
        }
    }

    @Test func keepsEveryPairAcrossGrowthAndActsAsAValue() {
        var rng = SplitMix64(seed: 5)
        var table = KeyTable(minimumCapacity: 16)
        var oracle: [UInt64: [UInt64]] = [:]
        var keys: [UInt64] = []
        var snapshot: KeyTable?
        var snapshotOracle: [UInt64: [UInt64]] = [:]
        // Past several doublings (1024 slots at first; 120 k keys need 256 k slots and 4 MiB,
        // so the last tables ask for huge pages), with some keys repeated.
        for position in UInt64(1)...120_000 {
            let key = position % 7 == 0 ? keys.randomElement(using: &rng)! : UInt64.random(in: 1...UInt64.max, using: &rng)
            if oracle[key] == nil { keys.append(key) }
            table.insert(key, position: position)
            oracle[key, default: []].append(position)
            if position == 50_000 {
                snapshot = table
                snapshotOracle = oracle
            }
            // Grown as a SlotTable of as many entries would be.
            if position % 10_007 == 0 { #expect(table.capacity == SlotTable.capacityFor(count: Int(position))) }
        }
        #expect(table.count == 120_000)
        for (key, positions) in oracle {
            var seen: [UInt64] = []
            table.positions(key) { seen.append($0) }
            #expect(seen.sorted() == positions.sorted())
            #expect(table.holds(key))
        }
        var absent = UInt64(1)
        while oracle[absent] != nil { absent += 1 }
        #expect(!table.holds(absent))
        var none = 0
        table.positions(absent) { _ in none += 1 }
        #expect(none == 0)

        // The copy taken at 50 k keys still holds exactly those.
        let copy = snapshot!
        #expect(copy.count == 50_000)
        var copied: [UInt64: [UInt64]] = [:]
        copy.forEach { copied[$0, default: []].append($1) }
        #expect(copied.mapValues { $0.sorted() } == snapshotOracle.mapValues { $0.sorted() })

        // Drained: sorted by key, every pair once, then empty and usable again.
        var drained: [(key: UInt64, position: UInt64)] = []
        table.drainSorted { drained = Array($0) }
        #expect(drained.count == 120_000)
        #expect(zip(drained, drained.dropFirst()).allSatisfy { $0.key <= $1.key })
        #expect(Dictionary(grouping: drained, by: \.key).mapValues { $0.map(\.position).sorted() } == oracle.mapValues { $0.sorted() })
        #expect(table.count == 0)
        var left = 0
        table.forEach { _, _ in left += 1 }
        #expect(left == 0)
        table.insert(42, position: 7)
        var again: [UInt64] = []
        table.positions(42) { again.append($0) }
        #expect(again == [7])
        // The copy is untouched by the drain.
        #expect(copy.count == 50_000)
        var stillThere = 0
        copy.forEach { _, _ in stillThere += 1 }
        #expect(stillThere == 50_000)
    }

    @Test func itsHashIsTheSlotTablesHashOfTheKeysBytes() {
        var rng = SplitMix64(seed: 8)
        for key in [1, 0xFF, 0x0100, UInt64.max] + (0..<1000).map({ _ in rng.next() }) {
            let bytes = withUnsafeBytes(of: key.littleEndian) { SlotTable.hash($0) }
            #expect(KeyTable.slotHash(key) == bytes, "\(key)")
        }
    }

    /// Keys whose homes (in a table of `capacity`) fall in the last `last` slots: runs that
    /// pass the end and go on at slot 0.
    static func keysHomedNearTheEnd(_ n: Int, capacity: Int, last: Int, rng: inout SplitMix64) -> [UInt64] {
        var out: [UInt64] = []
        while out.count < n {
            let key = rng.next() | 1
            if Int(truncatingIfNeeded: KeyTable.slotHash(key)) & (capacity - 1) >= capacity - last { out.append(key) }
        }
        return out
    }

    /// The ids view written from a KeyTable, slot by slot, is byte for byte the one the bulk
    /// writer lays out from the same entries in any order: repeated keys (ties broken by
    /// position), runs that wrap past the last slot, tables grown as they filled.
    @Test func theTableWrittenFromItsLayoutIsTheOneTheWriterLaysOut() throws {
        let dir = TemporaryDirectory()
        var rng = SplitMix64(seed: 21)
        for total in [1, 700, 716, 717, 3000, 50_000] {
            var keys: [UInt64] = []
            // With 716 entries (1024 slots), the first 100 have homes in the last 60 slots.
            if total == 716 { keys = Self.keysHomedNearTheEnd(100, capacity: 1024, last: 60, rng: &rng) }
            while keys.count < total { keys.append(keys.count % 40 == 39 ? keys[keys.count / 2] : rng.next() | 1) }
            var table = KeyTable(minimumCapacity: 1)
            for (i, key) in keys.enumerated() { table.insert(key, position: UInt64(i + 1)) }

            let laidOutPath = dir.path + "/laid-\(total).tbl", writerPath = dir.path + "/writer-\(total).tbl"
            let empty = try SlotTable.create(path: laidOutPath, keyBytesMax: 8, valueBytes: 0, checkpoint: 5)
            let prepared = try #require(try empty.prepareInsertMany(laidOut: table), "\(total) keys")
            try empty.install(prepared)
            #expect(empty.count == total && empty.capacity == table.capacity && empty.checkpoint == 5)

            let other = try SlotTable.create(path: writerPath, keyBytesMax: 8, valueBytes: 0, checkpoint: 5)
            try other.install(try other.prepareInsertMany { add in
                for (i, key) in keys.enumerated().shuffled(using: &rng) {
                    try withUnsafeBytes(of: key.littleEndian) { try add($0, UInt64(i + 1)) }
                }
            })
            let same = FileDamage.read(laidOutPath) == FileDamage.read(writerPath)  // one Bool: no huge failure message
            #expect(same, "\(total) keys")
            for (i, key) in keys.enumerated().prefix(200) {
                var found = false
                try withUnsafeBytes(of: key.littleEndian) { k in
                    try empty.forEachSlot(withKey: Array(k)) { s in found = found || s.appliedPosition == UInt64(i + 1); return true }
                }
                #expect(found, "\(total) keys: key \(i)")
            }
            if total == 716 {
                // A run certainly wrapped: the first slot holds a key homed elsewhere.
                let wrapped = table.withSlots { $0[0].key != 0 && Int(truncatingIfNeeded: KeyTable.slotHash($0[0].key)) & 1023 > 0 }
                #expect(wrapped)
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).allSatisfy { $0.hasSuffix(".tbl") })
    }

    /// The table `prepareInsertMany(adding:)` (the bulk writer) makes of `table`'s entries and `keys`.
    static func writersTable(_ dir: TemporaryDirectory, of table: String, adding keys: [(UInt64, UInt64)]) throws -> [UInt8] {
        let path = dir.path + "/writer.tbl"
        try FileManager.default.copyItem(atPath: dir.path + "/" + table, toPath: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let copy = try #require(try SlotTable.open(path: path, keyBytesMax: 8, valueBytes: 0, writable: true))
        try copy.install(try copy.prepareInsertMany { add in
            for (key, position) in keys { try withUnsafeBytes(of: key.littleEndian) { try add($0, position) } }
        })
        return FileDamage.read(path)
    }

    /// A table that holds entries, even only by its slots (a header count a crash left behind),
    /// or keys in a KeyTable larger than their count needs: the union is laid out in memory
    /// first, and the table is the one the bulk writer makes. Beyond the memory allowed, or for
    /// a table of another shape, nil: the caller then goes through the bulk writer.
    @Test func aTableWithEntriesOrKeysLaidOutForMoreGetTheWritersTable() throws {
        let dir = TemporaryDirectory()
        var rng = SplitMix64(seed: 33)
        let pairs = (1...2000).map { (rng.next() | 1, UInt64($0)) }
        var keys = KeyTable(minimumCapacity: 1)
        for (key, position) in pairs { keys.insert(key, position: position) }
        let existing = (0..<700).map { _ in rng.next() | 1 }
        func create(_ name: String, _ keys: [UInt64]) throws -> SlotTable {
            try SlotTable.create(path: dir.path + "/" + name, keyBytesMax: 8, valueBytes: 0,
                                 entries: keys.enumerated().map { .init(key: withUnsafeBytes(of: $1.littleEndian) { Array($0) },
                                                                        appliedPosition: UInt64(5000 + $0), value: []) }, checkpoint: 9)
        }
        // Holding 700 entries (with one key also among the new ones: a repeated key is a slot of its own).
        let holding = try create("holding.tbl", existing + [pairs[3].0])
        let expected = try Self.writersTable(dir, of: "holding.tbl", adding: pairs)
        try holding.install(try #require(try holding.prepareInsertMany(laidOut: keys)))
        #expect(holding.count == 2701 && holding.checkpoint == 9)
        let same = FileDamage.read(dir.path + "/holding.tbl") == expected
        #expect(same)

        // A slot whose insert's header count a crash lost: empty by its count, not by its slots.
        let lagging = try create("lagging.tbl", [])
        try lagging.insert(key: [9, 9, 9, 9, 9, 9, 9, 9], appliedPosition: 3, value: [])
        var header = FileDamage.read(dir.path + "/lagging.tbl")
        header.replaceSubrange(24..<32, with: [UInt8](repeating: 0, count: 8))
        header.replaceSubrange(60..<64, with: withUnsafeBytes(of: CRC32C.checksum(Array(header[0..<60])).littleEndian) { Array($0) })
        try Data(header).write(to: URL(fileURLWithPath: dir.path + "/lagging.tbl"))
        let reopened = try #require(try SlotTable.open(path: dir.path + "/lagging.tbl", keyBytesMax: 8, valueBytes: 0, writable: true))
        #expect(reopened.count == 0)
        let expectedLagging = try Self.writersTable(dir, of: "lagging.tbl", adding: pairs)
        try reopened.install(try #require(try reopened.prepareInsertMany(laidOut: keys)))
        #expect(reopened.count == 2001)
        let sameLagging = FileDamage.read(dir.path + "/lagging.tbl") == expectedLagging
        #expect(sameLagging)

        // Keys in a KeyTable made for many more (its layout is another capacity's).
        var roomy = KeyTable(minimumCapacity: 100_000)
        for (key, position) in pairs { roomy.insert(key, position: position) }
        let empty = try create("empty.tbl", [])
        let expectedEmpty = try Self.writersTable(dir, of: "empty.tbl", adding: pairs)
        try empty.install(try #require(try empty.prepareInsertMany(laidOut: roomy)))
        #expect(empty.capacity == SlotTable.capacityFor(count: 2000))
        let sameEmpty = FileDamage.read(dir.path + "/empty.tbl") == expectedEmpty
        #expect(sameEmpty)

        // Nil: more than the memory allowed, a key of 8 zero bytes (no KeyTable holds one),
        // other keys or a value. Nothing is written by any of them.
        let big = try create("big.tbl", existing)
        #expect(try big.prepareInsertMany(laidOut: keys, memoryBytesMax: KeyTable.bytes(forCount: 2700) - 1) == nil)
        #expect(try big.prepareInsertMany(laidOut: keys, memoryBytesMax: KeyTable.bytes(forCount: 2700)) != nil)
        let zero = try create("zero.tbl", [])
        try zero.insert(key: [0, 0, 0, 0, 0, 0, 0, 0], appliedPosition: 1, value: [])
        #expect(try zero.prepareInsertMany(laidOut: keys) == nil)
        let wide = try SlotTable.create(path: dir.path + "/wide.tbl", keyBytesMax: 16, valueBytes: 0)
        #expect(try wide.prepareInsertMany(laidOut: keys) == nil)
        let valued = try SlotTable.create(path: dir.path + "/valued.tbl", keyBytesMax: 8, valueBytes: 4)
        #expect(try valued.prepareInsertMany(laidOut: keys) == nil)
        #expect(try empty.prepareInsertMany(laidOut: KeyTable(minimumCapacity: 1)) == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).allSatisfy { $0.hasSuffix(".tbl") })
    }
}
