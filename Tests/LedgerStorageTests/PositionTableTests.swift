import Foundation
@testable import LedgerStorage
import LedgerTestSupport
import Testing

/// The bulk read under all-accounts as-of answers: records in order, each CRC-checked,
/// stopping at the first missing one.
@Suite struct PositionTableTests {
    @Test func forEachVisitsRecordsInOrderAndStopsAtAGapOrDamage() throws {
        let dir = TemporaryDirectory()
        let path = dir.path + "/t.tbl"
        let table = try PositionTable.create(path: path, recordBytes: 12)
        func payload(_ p: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: p &* 31 &+ UInt64($0)) } }
        // Enough records to span several 64 KiB chunks; position 7000 is left out.
        for p in UInt64(1)...9000 where p != 7000 { try payload(p).withUnsafeBytes { try table.write(p, $0) } }
        try table.flush()
        var seen: [UInt64] = []
        var wrong = 0
        let complete = try table.forEach(from: 2, through: 6999) { p, bytes in
            if Array(bytes) != payload(p) { wrong += 1 }
            seen.append(p)
        }
        #expect(complete && wrong == 0)
        #expect(seen == Array(2...6999))
        seen = []
        #expect(try table.forEach(from: 6990, through: 9000) { p, _ in seen.append(p) } == false)
        #expect(seen == Array(6990...6999))
        #expect(try table.forEach(from: 9000, through: 9001) { _, _ in } == false)
        // A record failing its CRC is damage, not a gap.
        FileDamage.flipBit(path, offset: PositionTable.headerBytes + 99 * 12 + 2)
        let reopened = try #require(try PositionTable.open(path: path, recordBytes: 12, writable: false))
        #expect(throws: SlotTableError.self) { try reopened.forEach(from: 1, through: 200) { _, _ in } }
    }

    @Test func syncingRecordsWritesThemWithoutMovingTheCheckpoint() throws {
        // What a history builder does when it ends: the records reach the file (a reader opening
        // it sees them), the checkpoint stays where it was until the owner moves it.
        let dir = TemporaryDirectory()
        let path = dir.path + "/t.tbl"
        let table = try PositionTable.create(path: path, recordBytes: 12)
        let payload: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
        for p in UInt64(1)...3 { try payload.withUnsafeBytes { try table.write(p, $0) } }
        try table.checkpoint(through: 3)
        for p in UInt64(4)...10 { try payload.withUnsafeBytes { try table.write(first: p, payloads: $0) } }
        try table.syncRecords()
        let reader = try #require(try PositionTable.open(path: path, recordBytes: 12, writable: false))
        #expect(reader.checkpoint == 3 && table.checkpoint == 3)
        #expect(try reader.read(10) == payload)
        var seen: [UInt64] = []
        #expect(try table.forEach(from: 1, through: 10) { p, bytes in if Array(bytes) == payload { seen.append(p) } })
        #expect(seen == Array(1...10))
    }

    @Test func batchesWriteTheSameFileAsSingleRecords() throws {
        // Batches of uneven sizes, a gap between two of them, a batch running into a pending
        // run and one past the 1 MiB flush: the file equals the one written a record at a time.
        let dir = TemporaryDirectory()
        func payload(_ p: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: p &* 131 &+ UInt64($0)) } }
        let positions = Array(UInt64(1)...150_000).filter { $0 < 500 || $0 > 520 }
        let one = try PositionTable.create(path: dir.path + "/one.tbl", recordBytes: 12)
        for p in positions { try payload(p).withUnsafeBytes { try one.write(p, $0) } }
        try one.flush()
        let batched = try PositionTable.create(path: dir.path + "/batched.tbl", recordBytes: 12)
        var i = 0, size = 1
        while i < positions.count {
            // A batch is consecutive positions only.
            var run = [positions[i]]
            while run.count < size, i + run.count < positions.count, positions[i + run.count] == run.last! + 1 { run.append(positions[i + run.count]) }
            let bytes = run.flatMap(payload)
            try bytes.withUnsafeBytes { try batched.write(first: run[0], payloads: $0) }
            i += run.count
            size = size * 3 % 10_007 + 1
        }
        try batched.flush()
        let a = try Data(contentsOf: URL(fileURLWithPath: dir.path + "/one.tbl"))
        let b = try Data(contentsOf: URL(fileURLWithPath: dir.path + "/batched.tbl"))
        #expect(a.count == PositionTable.headerBytes + 150_000 * 12)
        #expect(a == b)
    }

    @Test func aRecordCaughtMidWriteIsReadAgainAndPatchedIntoItsChunk() throws {
        let dir = TemporaryDirectory()
        let path = dir.path + "/t.tbl"
        let table = try PositionTable.create(path: path, recordBytes: 12)
        func payload(_ p: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: p &* 7 &+ UInt64($0)) } }
        for p in UInt64(1)...100 { try payload(p).withUnsafeBytes { try table.write(p, $0) } }
        try table.flush()
        // Record 40 is half-written when the chunk is read, and whole by the time it is read again
        // (changed in place: the table reads through its open descriptor).
        let offset = PositionTable.headerBytes + 39 * 12
        func overwrite(_ bytes: [UInt8]) {
            let fd = open(path, O_WRONLY)
            precondition(fd >= 0 && bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, bytes.count, off_t(offset)) } == bytes.count)
            close(fd)
        }
        let record = Array(FileDamage.read(path)[offset..<(offset + 12)])
        var torn = record
        torn[3] ^= 0x10
        overwrite(torn)
        let reader = try table.chunks(from: 1, through: 100)
        var restored = false
        reader.afterChunkRead = {
            guard !restored else { return }
            restored = true
            overwrite(record)
        }
        var seen: [UInt64] = []
        var wrong: [UInt64] = []
        while let chunk = try reader.next() {
            for i in 0..<chunk.count {
                let p = chunk.first + UInt64(i)
                if Array(UnsafeRawBufferPointer(start: chunk.payload(i), count: 8)) != payload(p) { wrong.append(p) }
                seen.append(p)
            }
        }
        #expect(restored)
        #expect(reader.complete && seen == Array(1...100) && wrong.isEmpty, "wrong: \(wrong)")
    }
}
