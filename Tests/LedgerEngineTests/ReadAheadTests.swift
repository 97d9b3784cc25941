@testable import LedgerEngine
import LedgerStorage
import LedgerTestSupport
import Testing

/// The log read on another thread: the same batches as reading it in place, in order, for any
/// range; a visitor that stops or throws ends the reader; damage is thrown after the batches
/// before it, as a direct read throws it.
@Suite struct ReadAheadTests {
    /// Batches of 1 to 40 records, one of them far larger than a read-ahead buffer, over
    /// several segments.
    static func store() throws -> TemporaryDirectory {
        let dir = TemporaryDirectory()
        var next = 0
        var batches: [[String]] = []
        for k in 0..<60 {
            // Batch 30: twelve records of 60 KB, more than a buffer holds.
            let n = k == 30 ? 12 : 1 + (k * 7) % 40
            let size = k == 30 ? 60_000 : 10
            batches.append((0..<n).map { _ in next += 1; return "\(next):" + String(repeating: "x", count: size) })
        }
        #expect(12 * 60_000 > ReadAhead.bufferBytes)
        try LogFixture.append(dir, batches: batches, segmentBytes: 4096)
        return dir
    }

    typealias Seen = [(first: UInt64, count: Int, payloads: [String])]

    static func read(_ batch: RecordBatch) -> (first: UInt64, count: Int, payloads: [String]) {
        (batch.firstPosition, batch.count, batch.map { String(decoding: $0.payload, as: UTF8.self) })
    }

    @Test func handsOutTheBatchesADirectReadDoes() throws {
        let dir = try Self.store()
        #expect(try LogFixture.segmentPaths(dir).count > 3)
        let log = try Log.open(directory: dir.logDirectory)
        for (from, through) in [(UInt64(1), UInt64.max), (5, 900), (333, 334), (log.head.position, .max)] {
            var direct: Seen = []
            try log.forEachBatch(from: from, through: through) { direct.append(Self.read($0)); return true }
            // On a thread of its own, and in place as when none can be started.
            for threaded in [true, false] {
                var ahead: Seen = []
                try ReadAhead.forEachBatch(log, from: from, through: through, threaded: threaded) { ahead.append(Self.read($0)); return true }
                #expect(ahead.count == direct.count && !ahead.isEmpty)
                for (a, d) in zip(ahead, direct) { #expect(a.first == d.first && a.count == d.count && a.payloads == d.payloads) }
            }
        }
    }

    /// Each batch comes with its records' digests, made on the reading thread, in order: a
    /// digest of 16 bytes (stored past the cache) and one of 4 (stored plainly).
    @Test func eachBatchComesWithItsRecordsDigests() throws {
        let dir = try Self.store()
        let log = try Log.open(directory: dir.logDirectory)
        for threaded in [true, false] {
            var wide: [(UInt64, UInt64)] = [], narrow: [UInt32] = [], expected: [(UInt64, UInt64)] = []
            try ReadAhead.forEachBatch(log, from: 3, threaded: threaded, digest: { (position: $0.position, bytes: UInt64($0.payload.count)) }) { batch, digests in
                #expect(digests.count == batch.count)
                wide += digests.map { ($0.position, $0.bytes) }
                expected += batch.map { ($0.position, UInt64($0.payload.count)) }
                return true
            }
            try ReadAhead.forEachBatch(log, from: 3, threaded: threaded, digest: { UInt32(truncatingIfNeeded: $0.position) }) { _, digests in
                narrow += digests
                return true
            }
            #expect(wide.count == Int(log.head.position) - 2)
            #expect(wide.map(\.0) == expected.map(\.0) && wide.map(\.1) == expected.map(\.1))
            #expect(narrow == expected.map { UInt32($0.0) })
        }
    }

    @Test func aVisitorThatStopsOrThrowsEndsTheReader() throws {
        let dir = try Self.store()
        let log = try Log.open(directory: dir.logDirectory)
        var visits = 0
        try ReadAhead.forEachBatch(log, from: 1) { _ in visits += 1; return visits < 3 }
        #expect(visits == 3)
        struct Stop: Error {}
        visits = 0
        #expect(throws: Stop.self) { try ReadAhead.forEachBatch(log, from: 1) { _ in visits += 1; if visits == 2 { throw Stop() }; return true } }
        #expect(visits == 2)
        // The log is free for the caller again: a direct read sees everything.
        var records = 0
        try log.forEach(from: 1) { _ in records += 1; return true }
        #expect(UInt64(records) == log.head.position)
    }

    @Test func damageIsThrownAfterTheBatchesBeforeIt() throws {
        let dir = try Self.store()
        let paths = try LogFixture.segmentPaths(dir)
        // A bit flipped in the second segment's first record's payload.
        FileDamage.flipBit(paths[1], offset: RecordFormat.segmentHeaderBytes + 40)
        let log = try Log.open(directory: dir.logDirectory)
        var direct: [UInt64] = [], ahead: [UInt64] = []
        var directError: Error?, aheadError: Error?
        do { try log.forEachBatch(from: 1) { direct.append($0.lastPosition); return true } } catch { directError = error }
        do { try ReadAhead.forEachBatch(log, from: 1) { ahead.append($0.lastPosition); return true } } catch { aheadError = error }
        #expect(directError != nil)
        #expect(ahead == direct && !ahead.isEmpty)
        #expect(String(describing: aheadError) == String(describing: directError))
    }
}

extension ReadAhead {
    /// The batches alone (each record's digest is nothing).
    static func forEachBatch(_ log: Log, from position: UInt64, through last: UInt64 = .max, threaded: Bool = true,
                             _ visit: (RecordBatch) throws -> Bool) throws {
        try forEachBatch(log, from: position, through: last, threaded: threaded, digest: { _ in () }) { batch, _ in try visit(batch) }
    }
}
