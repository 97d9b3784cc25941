import Foundation
@testable import LedgerStorage
import LedgerTestSupport
import Testing

/// The storage pieces under `ledger import`: the batch spool, bulk slot-table inserts, and
/// single-record reads through the index.
@Suite struct BulkStorageTests {
    func batches(_ writer: LogWriter, count: Int, records: Int) throws -> [Batch] {
        var out: [Batch] = []
        var batch = writer.makeBatch()
        for b in 0..<count {
            if b > 0 { batch = writer.makeBatch(following: out.last!) }
            for r in 0..<records {
                try batch.append(timestampMicros: Int64(b * records + r), type: 7, schemaVersion: 1,
                                 payload: Array("batch \(b) record \(r) ".utf8) + [UInt8](repeating: UInt8(r & 0xFF), count: 100))
            }
            out.append(batch)
        }
        return out
    }

    @Test func spoolKeepsMemoryBoundedAndGivesBackEveryBatchInOrder() throws {
        let dir = TemporaryDirectory()
        let lock = try StoreLock.acquire(dir.path + "/LOCK", timeoutMillis: 100)
        defer { lock.release() }
        let writer = try LogWriter(directory: dir.logDirectory, segmentBytes: 1 << 20, holding: lock)
        let made = try batches(writer, count: 20, records: 50)
        let budget = 3 * made[0].byteCount
        let spool = BatchSpool(directory: dir.logDirectory, memoryBytesMax: budget)
        for b in made {
            try spool.add(b)
            #expect(spool.bytesInMemory <= budget + b.byteCount)
        }
        #expect(spool.bytesInMemory <= budget)
        #expect(spool.batchCount == 20 && spool.recordCount == 1000)
        // The spool file has no name: nothing but the log's own files is in the directory.
        #expect(try FileSystem.list(dir.logDirectory).allSatisfy { !$0.hasPrefix(".spool") })
        // Records from the file part and the memory part.
        for position in [UInt64(1), 77, 500, 999, 1000] {
            let r = try #require(try spool.record(at: position))
            let b = Int(position - 1) / 50, i = Int(position - 1) % 50
            let text = Array("batch \(b) record \(i) ".utf8)
            #expect(r.type == 7 && Array(r.payload.prefix(text.count)) == text && r.payload.count == text.count + 100)
        }
        #expect(try spool.record(at: 1001) == nil)
        #expect(try spool.record(at: 0) == nil)
        var drained: [Batch] = []
        try spool.drain { drained.append($0) }
        #expect(drained.map(\.firstPosition) == made.map(\.firstPosition))
        #expect(drained.map(\.frames) == made.map(\.frames))
        for b in drained { try writer.append(b) }
        #expect(try LogFixture.readAll(dir).count == 1000)
    }

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
        let prepared = try bulk.prepareInsertMany(expected: added.count) { add in
            for (i, k) in added.enumerated() { try k.withUnsafeBytes { try add($0, UInt64(500 + i + 1)) } }
        }
        // Preparing writes nothing.
        #expect(try #require(try SlotTable.open(path: dir.path + "/bulk.tbl", keyBytesMax: 8, valueBytes: 0, writable: false)).count == 500)
        try bulk.install(prepared)
        #expect(bulk.count == 3000)
        let same = FileDamage.read(dir.path + "/bulk.tbl") == FileDamage.read(dir.path + "/single.tbl")
        #expect(same)
        for (i, k) in keys.enumerated() { #expect(try bulk.find(k)?.appliedPosition == UInt64(i + 1)) }
        // Announcing fewer entries than are produced is refused, not overflowed.
        let small = try SlotTable.create(path: dir.path + "/small.tbl", keyBytesMax: 8, valueBytes: 0)
        #expect(throws: SlotTableError.self) {
            _ = try small.prepareInsertMany(expected: 1) { add in
                for k in keys { try k.withUnsafeBytes { try add($0, 1) } }
            }
        }
    }

    @Test func aTableBuiltInMemoryEqualsOneInsertAtATimeWhateverTheGuess() throws {
        let dir = TemporaryDirectory()
        var rng = SplitMix64(seed: 9)
        // 2000 keys: the table doubles twice on the way (1024 → 2048 → 4096 slots at 70 % load).
        let keys = (0..<2000).map { _ in withUnsafeBytes(of: rng.next()) { Array($0) } }
        let single = try SlotTable.create(path: dir.path + "/single.tbl", keyBytesMax: 8, valueBytes: 0, checkpoint: 77)
        for (i, k) in keys.enumerated() { try single.insert(key: k, appliedPosition: UInt64(i + 1), value: []) }
        try single.checkpoint(through: 77)
        let expected = FileDamage.read(dir.path + "/single.tbl")
        // Too small a guess (grows as it goes), a right one, and far too big a one (shrinks at the end).
        for guess in [0, 2000, 100_000] {
            let builder = SlotTableBuilder(keyBytesMax: 8, expected: guess)
            for (i, k) in keys.enumerated() { try k.withUnsafeBytes { try builder.add($0, position: UInt64(i + 1)) } }
            let path = dir.path + "/built-\(guess).tbl"
            let table = try SlotTable.create(path: path, from: builder, checkpoint: 77)
            #expect(table.count == 2000 && table.checkpoint == 77)
            // Compared as one Bool: a failing #expect on two large arrays spends minutes describing them.
            let same = FileDamage.read(path) == expected
            #expect(same, "guess \(guess)")
            #expect(!FileManager.default.fileExists(atPath: path + ".new"))
        }
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
