import Foundation
@testable import LedgerStorage
import LedgerTestSupport
import Testing

@Suite struct LogTests {
    @Test func roundTripKeepsEveryRecordInOrder() throws {
        let dir = TemporaryDirectory()
        let ranges = try LogFixture.append(dir, batches: [["a"], ["b", "c", "d"], ["e"]])
        #expect(ranges == [1...1, 2...4, 5...5])
        let records = try LogFixture.readAll(dir)
        #expect(records.map(\.0) == [1, 2, 3, 4, 5])
        #expect(records.map(\.1) == ["a", "b", "c", "d", "e"])
        let log = try Log.open(directory: dir.logDirectory)
        #expect(log.head.position == 5)
        #expect(log.notes.isEmpty)
    }

    @Test func recordFieldsSurviveTheRoundTrip() throws {
        let dir = TemporaryDirectory()
        let lock = try StoreLock.acquire(dir.path + "/LOCK", timeoutMillis: 100)
        let writer = try LogWriter(directory: dir.logDirectory, segmentBytes: 4096, holding: lock)
        var batch = writer.makeBatch()
        try batch.append(timestampMicros: -5, type: 0x1234, schemaVersion: 3, payload: [0, 255, 7])
        try batch.append(timestampMicros: -5, type: 2, schemaVersion: 1, payload: [])
        try writer.append(batch)
        lock.release()
        var seen: [(UInt64, Int64, UInt16, UInt16, [UInt8])] = []
        try Log.open(directory: dir.logDirectory).forEach(from: 1) {
            seen.append(($0.position, $0.timestampMicros, $0.type, $0.schemaVersion, Array($0.payload)))
            return true
        }
        #expect(seen.count == 2)
        #expect(seen[0] == (1, -5, 0x1234, 3, [0, 255, 7]))
        #expect(seen[1] == (2, -5, 2, 1, []))
    }

    @Test func writerRejectsBadRecordsBeforeWriting() throws {
        let dir = TemporaryDirectory()
        let lock = try StoreLock.acquire(dir.path + "/LOCK", timeoutMillis: 100)
        let writer = try LogWriter(directory: dir.logDirectory, segmentBytes: 4096, holding: lock)
        var batch = writer.makeBatch()
        #expect(throws: StorageError.recordTooLarge(bytes: 20 + Limits.recordBodyBytesMax, max: Limits.recordBodyBytesMax)) {
            try batch.append(timestampMicros: 1, type: 1, schemaVersion: 1, payload: [UInt8](repeating: 0, count: Limits.recordBodyBytesMax))
        }
        #expect(throws: StorageError.invalidRecordType(RecordFormat.commitType)) {
            try batch.append(timestampMicros: 1, type: RecordFormat.commitType, schemaVersion: 1, payload: [])
        }
        try batch.append(timestampMicros: 10, type: 1, schemaVersion: 1, payload: [])
        #expect(throws: StorageError.timestampBeforeLast(timestampMicros: 9, lastMicros: 10)) {
            try batch.append(timestampMicros: 9, type: 1, schemaVersion: 1, payload: [])
        }
        try writer.append(batch)
        var next = writer.makeBatch()
        #expect(throws: StorageError.timestampBeforeLast(timestampMicros: 3, lastMicros: 10)) {
            try next.append(timestampMicros: 3, type: 1, schemaVersion: 1, payload: [])
        }
    }

    @Test func rolloverAcrossManyTinySegments() throws {
        let dir = TemporaryDirectory()
        let payloads = (1...200).map { "record-\($0)" }
        try LogFixture.append(dir, batches: payloads.chunked(3), segmentBytes: 256)
        let segments = try LogFixture.segmentPaths(dir)
        #expect(segments.count > 20)
        // Names are the zero-padded first position of each segment.
        let log = try Log.open(directory: dir.logDirectory)
        for (segment, path) in zip(log.segments, segments) {
            #expect(path.hasSuffix(String(repeating: "0", count: 20 - String(segment.base).count) + "\(segment.base).seg"))
        }
        #expect(try LogFixture.readAll(dir).map(\.1) == payloads)
        // Reading from every position starts exactly there.
        for start in stride(from: 1, through: 200, by: 7) {
            #expect(try LogFixture.readAll(dir, from: UInt64(start)).first?.0 == UInt64(start))
        }
        // Reopening for write and appending continues the sequence.
        try LogFixture.append(dir, batches: [["tail"]], segmentBytes: 256)
        #expect(try LogFixture.readAll(dir).last! == (201, "tail"))
    }

    @Test func indexLookupsByPositionAndTimeAcrossSegments() throws {
        let dir = TemporaryDirectory()
        // Timestamps: 1_000_000 + position * 1_000.
        try LogFixture.append(dir, batches: (1...120).map { "r\($0)" }.chunked(5), segmentBytes: 300)
        let log = try Log.open(directory: dir.logDirectory)
        #expect(log.segments.count > 5)
        for position in UInt64(1)...120 {
            #expect(try log.timestamp(ofPosition: position) == 1_000_000 + Int64(position) * 1_000)
        }
        #expect(try log.lastPosition(atOrBefore: 0) == 0)
        #expect(try log.lastPosition(atOrBefore: 1_000_999) == 0)
        #expect(try log.lastPosition(atOrBefore: 1_001_000) == 1)
        for position in Int64(1)...120 {
            let t = 1_000_000 + position * 1_000
            #expect(try log.lastPosition(atOrBefore: t) == UInt64(position))
            #expect(try log.lastPosition(atOrBefore: t + 999) == UInt64(position))
            #expect(try log.lastPosition(atOrBefore: t - 1) == UInt64(position - 1))
        }
        #expect(try log.lastPosition(atOrBefore: Int64.max) == 120)
    }

    @Test func readerStopsAtTheHeadItOpenedWith() throws {
        let dir = TemporaryDirectory()
        try LogFixture.append(dir, batches: [["a"], ["b"]])
        let log = try Log.open(directory: dir.logDirectory)
        try LogFixture.append(dir, batches: [["c"]])
        var seen: [UInt64] = []
        try log.forEach(from: 1) { seen.append($0.position); return true }
        #expect(seen == [1, 2])
    }

    @Test func emptyAndMissingLogsReadAsEmpty() throws {
        let dir = TemporaryDirectory()
        let log = try Log.open(directory: dir.logDirectory)
        #expect(log.head == .empty)
        #expect(log.head.text == "0:" + String(repeating: "0", count: 64))
        #expect(try log.lastPosition(atOrBefore: Int64.max) == 0)
        #expect(try LogFixture.readAll(dir).isEmpty)
    }

    @Test func headChainIsTheSHA256ChainOverBatchFrames() throws {
        let dir = TemporaryDirectory()
        try LogFixture.append(dir, batches: [["a", "b"], ["c"]])
        let bytes = FileDamage.read(try LogFixture.segmentPaths(dir)[0])
        // Recompute independently: frames of batch 1 are after the 32-byte header, up to its commit.
        func frameLength(_ at: Int) -> Int { 8 + (Int(bytes[at]) | Int(bytes[at + 1]) << 8) }
        var at = 32
        let first = at
        at += frameLength(at); at += frameLength(at)
        let chain1 = SHA256.hash(LogHead.genesisChain + Array(bytes[first..<at]))
        at += RecordFormat.commitFrameBytes
        let second = at
        at += frameLength(at)
        let chain2 = SHA256.hash(chain1 + Array(bytes[second..<at]))
        #expect(try Log.open(directory: dir.logDirectory).head.text == "3:" + Hex.encode(chain2))
    }
}

extension Array {
    func chunked(_ size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
