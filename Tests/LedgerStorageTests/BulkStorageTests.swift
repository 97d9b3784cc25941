import Foundation
@testable import LedgerStorage
import LedgerTestSupport
import Testing

/// The storage pieces under `ledger import`: bulk slot-table inserts and
/// single-record reads through the index.
@Suite struct BulkStorageTests {
    @Test func bulkInsertGivesTheSameTableAsOneInsertAtATime() throws {
        let dir = TemporaryDirectory()
        var rng = SplitMix64(seed: 5)
        let keys = (0..<3000).map { _ in withUnsafeBytes(of: rng.next()) { Array($0) } }
        let existing = keys[..<500], added = keys[500...]
        // One by one.
        let single = try SlotTable.create(path: dir.path + "/single.tbl", keyBytesMax: 8, valueBytes: 0)
        for (i, k) in keys.enumerated() { try single.insert(key: k, appliedPosition: UInt64(i + 1), value: []) }
        // 500 first, then 2500 in one bulk insert.
        let bulk = try SlotTable.create(path: dir.path + "/bulk.tbl", keyBytesMax: 8, valueBytes: 0,
                                        entries: existing.enumerated().map { .init(key: $1, appliedPosition: UInt64($0 + 1), value: []) })
        let prepared = try bulk.prepareInsertMany { add in
            for (i, k) in added.enumerated() { try k.withUnsafeBytes { try add($0, UInt64(500 + i + 1)) } }
        }
        // Preparing leaves the table as it was.
        #expect(try #require(try SlotTable.open(path: dir.path + "/bulk.tbl", keyBytesMax: 8, valueBytes: 0, writable: false)).count == 500)
        try bulk.install(prepared)
        #expect(bulk.count == 3000)
        let same = FileDamage.read(dir.path + "/bulk.tbl") == FileDamage.read(dir.path + "/single.tbl")
        #expect(same)
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/bulk.tbl.new"))
        for (i, k) in keys.enumerated() { #expect(try bulk.find(k)?.appliedPosition == UInt64(i + 1)) }
        // A prepared table that is never installed leaves nothing behind.
        do {
            _ = try bulk.prepareInsertMany { add in try keys[0].withUnsafeBytes { try add($0, 9999) } }
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/bulk.tbl.new"))
        #expect(bulk.count == 3000)
    }

    /// A bulk insert told how many entries it adds (an import's keys) takes memory for all of
    /// them and the table's own, up to its limit, and lays out the same table as one that is not told.
    @Test func aBulkInsertToldItsCountLaysOutTheSameTable() throws {
        let dir = TemporaryDirectory()
        var rng = SplitMix64(seed: 6)
        let keys = (0..<2000).map { _ in withUnsafeBytes(of: rng.next()) { Array($0) } }
        var bytes: [[UInt8]] = []
        for adding in [nil, 1500] as [Int?] {
            let path = dir.path + "/t\(adding ?? 0).tbl"
            let table = try SlotTable.create(path: path, keyBytesMax: 8, valueBytes: 0,
                                             entries: keys[..<500].enumerated().map { .init(key: $1, appliedPosition: UInt64($0 + 1), value: []) })
            try table.install(try table.prepareInsertMany(adding: adding) { add in
                for (i, k) in keys[500...].enumerated() { try k.withUnsafeBytes { try add($0, UInt64(500 + i + 1)) } }
            })
            #expect(table.count == 2000)
            bytes.append(FileDamage.read(path))
        }
        #expect(bytes[0] == bytes[1])
        let slotBytes = SlotTable.slotHeaderBytes + 8
        let limit = SlotTableWriter.knownEntriesMemoryBytesMax / slotBytes
        for (entries, slots) in [(10, 10), (1_000_000, 1_000_000), (3_000_000, limit)] {
            #expect(SlotTableWriter(sizedFor: entries, path: dir.path + "/s.tbl", keyBytesMax: 8, valueBytes: 0).bufferSlots == slots)
        }
    }

    /// Robin Hood insertion into memory at the final capacity: the layout single inserts give,
    /// computed without SlotTableWriter (which the file's own growth uses).
    struct MemorySlots: SlotStorage {
        var bytes: [UInt8]
        let slotBytes: Int
        func read(_ index: Int, into p: UnsafeMutableRawPointer) throws {
            bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress! + index * slotBytes, byteCount: slotBytes) }
        }
        mutating func write(_ index: Int, from p: UnsafeRawPointer) throws {
            let n = slotBytes
            bytes.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: index * n).copyMemory(from: p, byteCount: n) }
        }
    }

    @Test func theWriterLaysOutTheTableSingleInsertsWouldWhateverItsMemory() throws {
        let dir = TemporaryDirectory()
        var rng = SplitMix64(seed: 9)
        let keyBytesMax = 12, valueBytes = 4, slotBytes = SlotTable.slotHeaderBytes + keyBytesMax + valueBytes
        // Keys of every length 1...12, some repeated (a repeat is a slot of its own); 716 of them
        // fill 1024 slots to the 70 % limit, so runs reach the last slot and wrap to the first.
        for total in [0, 1, 700, 716, 717, 3000] {
            let capacity = SlotTable.capacityFor(count: total)
            func home(_ key: [UInt8]) -> Int { key.withUnsafeBytes { Int(truncatingIfNeeded: SlotTable.hash($0)) & (capacity - 1) } }
            var entries: [(key: [UInt8], position: UInt64, value: [UInt8])] = []
            for i in 0..<total {
                var key = (0..<Int(rng.next() % 12 + 1)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                if i % 50 == 49 { key = entries[i / 2].key }
                // With 716 entries, the first 100 have homes in the last 60 slots: a run certainly wraps.
                while total == 716 && i < 100 && home(key) < capacity - 60 { key = withUnsafeBytes(of: rng.next()) { Array($0) } }
                entries.append((key, UInt64(i + 1), withUnsafeBytes(of: UInt32(i)) { Array($0) }))
            }
            var oracle = MemorySlots(bytes: [UInt8](repeating: 0, count: capacity * slotBytes), slotBytes: slotBytes)
            let slot = UnsafeMutableRawPointer.allocate(byteCount: 3 * slotBytes, alignment: 8)
            defer { slot.deallocate() }
            for e in entries {
                e.key.withUnsafeBytes { k in e.value.withUnsafeBytes { v in
                    SlotTable.encodeSlot(key: k, appliedPosition: e.position, value: v, keyBytesMax: keyBytesMax, into: slot)
                } }
                try SlotTable.robinHoodInsert(slot, slotBytes: slotBytes, capacity: capacity, into: &oracle, scratch: slot + slotBytes)
            }
            // Memory for the whole set, for half of it (spilled, partitions larger than a partition
            // file's write buffer), for a tenth of it (spilled, several partitions), and for two slots.
            for memory in [1 << 20, max(1, total / 2) * slotBytes, max(1, total / 10) * slotBytes, 2 * slotBytes] {
                let path = dir.path + "/t-\(total)-\(memory).tbl"
                let writer = SlotTableWriter(path: path, keyBytesMax: keyBytesMax, valueBytes: valueBytes, memoryBytes: memory)
                for e in entries.shuffled(using: &rng) {
                    try e.key.withUnsafeBytes { k in try e.value.withUnsafeBytes { v in try writer.add(key: k, appliedPosition: e.position, value: v) } }
                }
                let table = try writer.finish(checkpoint: 77)
                #expect(table.count == total && table.capacity == capacity && table.checkpoint == 77)
                // Compared as one Bool: a failing #expect on two large arrays spends minutes describing them.
                let same = Array(FileDamage.read(path)[SlotTable.headerBytes...]) == oracle.bytes
                #expect(same, "\(total) entries, \(memory) bytes of memory")
                #expect(!FileManager.default.fileExists(atPath: path + ".new"))
                for e in entries.prefix(50) {
                    var found = false
                    try table.forEachSlot(withKey: e.key) { s in found = found || s.appliedPosition == e.position; return true }
                    #expect(found)
                }
            }
            // The wrap-around is exercised: some run reaches the last slot and goes on at slot 0.
            if total == 716 {
                let wrapped = oracle.bytes.withUnsafeBytes { raw -> Bool in
                    let first = raw.baseAddress!, last = raw.baseAddress! + (capacity - 1) * slotBytes
                    return SlotTable.keyLength(last) != 0 && SlotTable.keyLength(first) != 0 && SlotTable.home(first, capacity: capacity) > 0
                }
                #expect(wrapped)
            }
        }
        // The spill and partition files have no names: the directory holds only the tables.
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(names.allSatisfy { $0.hasSuffix(".tbl") })
    }

    @Test func aPositionLookupFindsWhatASlotLookupFindsAndCatchesDamage() throws {
        let dir = TemporaryDirectory()
        var rng = SplitMix64(seed: 12)
        // 700 keys in 1024 slots (long probe runs), every tenth key stored twice.
        let keys = (0..<700).map { _ in withUnsafeBytes(of: rng.next()) { Array($0) } }
        var entries: [SlotTable.Entry] = keys.enumerated().map { .init(key: $1, appliedPosition: UInt64($0 + 1), value: []) }
        for i in stride(from: 0, to: 700, by: 10) { entries.append(.init(key: keys[i], appliedPosition: UInt64(5000 + i), value: [])) }
        let path = dir.path + "/ids.tbl"
        let table = try SlotTable.create(path: path, keyBytesMax: 8, valueBytes: 0, entries: entries)
        let absent = (0..<200).map { _ in withUnsafeBytes(of: rng.next()) { Array($0) } }
        for key in keys + absent {
            var bySlot: [UInt64] = [], byPosition: [UInt64] = []
            try table.forEachSlot(withKey: key) { bySlot.append($0.appliedPosition); return true }
            try key.withUnsafeBytes { try table.forEachPosition(withKey: $0) { byPosition.append($0) } }
            #expect(bySlot.sorted() == byPosition.sorted())
        }
        // A slot whose CRC fails, on the probe of a key, is damage, not "absent".
        let key = keys[3]
        let home = key.withUnsafeBytes { Int(truncatingIfNeeded: SlotTable.hash($0)) & (table.capacity - 1) }
        let slotBytes = 24
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try handle.seek(toOffset: UInt64(SlotTable.headerBytes + home * slotBytes + 12))
        let byte = try #require(try handle.read(upToCount: 1)).first!
        try handle.seek(toOffset: UInt64(SlotTable.headerBytes + home * slotBytes + 12))
        try handle.write(contentsOf: [byte ^ 0x40])
        try handle.close()
        #expect(throws: SlotTableError.self) { try key.withUnsafeBytes { try table.forEachPosition(withKey: $0) { _ in } } }
    }

    @Test func oneRecordIsReadThroughTheIndexAndDamageIsStillCaught() throws {
        let dir = TemporaryDirectory()
        _ = try LogFixture.append(dir, batches: [["a", "b"], ["c", "d", "e"]])
        let log = try Log.open(directory: dir.logDirectory)
        let texts = try (1...5).map { p in try log.withRecord(at: UInt64(p)) { String(decoding: $0.payload, as: UTF8.self) } }
        #expect(texts == ["a", "b", "c", "d", "e"])
        #expect(try log.withRecord(at: 6) { _ in 1 } == nil)
        #expect(try log.withRecord(at: 0) { _ in 1 } == nil)

        // A damaged index entry: answered by a scan instead.
        let indexPath = dir.logDirectory + "/" + RecordFormat.indexName(base: 1)
        FileDamage.flipBit(indexPath, offset: 3 * RecordFormat.indexEntryBytes + 9)
        let reopened = try Log.open(directory: dir.logDirectory)
        #expect(try reopened.withRecord(at: 4) { String(decoding: $0.payload, as: UTF8.self) } == "d")

        // A flipped bit in the record itself: an integrity error, never a wrong answer.
        let dir2 = TemporaryDirectory()
        _ = try LogFixture.append(dir2, batches: [["a", "b"], ["c", "d", "e"]])
        let segmentPath = dir2.logDirectory + "/" + RecordFormat.segmentName(base: 1)
        let entry = try #require(try Log.open(directory: dir2.logDirectory).segments[0].indexEntry(4))
        FileDamage.flipBit(segmentPath, offset: Int(entry.offset) + Int(entry.frameBytes) - 1)
        let damaged = Log(directory: dir2.logDirectory, repair: false, lockHeld: false)
        try LogOpener(log: damaged).run()
        #expect(throws: StorageError.self) { _ = try damaged.withRecord(at: 4) { _ in 1 } }
    }
}
