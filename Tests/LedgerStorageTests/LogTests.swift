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

    @Test(arguments: [UInt64(1), 2, 3])
    func searchByTimeIsRightForUnevenTimes(seed: UInt64) throws {
        // Bursts of equal timestamps, long gaps, steady stretches: the guesses by time go wrong
        // often, and the answer must still be the naive one, in one segment and across many.
        var rng = SplitMix64(seed: seed)
        var times: [Int64] = [0]
        var t: Int64 = 5_000_000
        for _ in 1...400 {
            switch rng.next() % 4 {
            case 0: t += 0
            case 1: t += Int64(rng.next() % 3)
            case 2: t += 1_000
            default: t += Int64(rng.next() % 50_000_000)
            }
            times.append(t)
        }
        for segmentBytes in [Limits.segmentBytesDefault, 700] {
            let dir = TemporaryDirectory()
            try LogFixture.append(dir, batches: (1...400).map { "r\($0)" }.chunked(7), segmentBytes: segmentBytes,
                                  time: { times[Int($0)] })
            let log = try Log.open(directory: dir.logDirectory)
            var probes = Set(times.flatMap { [$0 - 1, $0, $0 + 1] })
            for _ in 0..<200 { probes.insert(Int64(rng.next() % UInt64(t + 10))) }
            for probe in probes.sorted() {
                let naive = UInt64(times.lastIndex { $0 <= probe } ?? 0)
                #expect(try log.lastPosition(atOrBefore: probe) == naive, "time \(probe), segment bytes \(segmentBytes)")
            }
        }
    }

    @Test func readingEverySegmentKeepsNoDescriptorPerSegment() throws {
        // A replay or export of a long log checks every sealed segment as it goes: none may
        // keep a descriptor open for it (thousands of segments would run out of them).
        let dir = TemporaryDirectory()
        try LogFixture.append(dir, batches: (1...300).map { "r\($0)" }.chunked(3), segmentBytes: 256)
        // Descriptors open on this log's files (other tests run alongside in this process).
        func openDescriptors() throws -> Int {
            try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").filter {
                ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0)) ?? "").hasPrefix(dir.logDirectory)
            }.count
        }
        let log = try Log.open(directory: dir.logDirectory)
        #expect(log.segments.count > 40)
        let before = try openDescriptors()
        var seen = 0
        try log.forEach(from: 1) { _ in seen += 1; return true }
        #expect(seen == 300)
        #expect(log.segments.dropLast().allSatisfy { !$0.unchecked })
        #expect(try openDescriptors() - before <= 2)
    }

    @Test func searchByTimeChecksOnlyTheSegmentItLandsIn() throws {
        let dir = TemporaryDirectory()
        try LogFixture.append(dir, batches: (1...120).map { "r\($0)" }.chunked(5), segmentBytes: 300)
        let log = try Log.open(directory: dir.logDirectory)
        let sealed = log.segments.count - 1
        #expect(sealed > 5 && log.segments.dropLast().allSatisfy(\.unchecked))
        // The segments the search passes over are read through their index's first entry only.
        #expect(try log.lastPosition(atOrBefore: 1_000_000 + 50 * 1_000) == 50)
        let landed = log.segments.firstIndex { $0.base <= 50 && 50 <= $0.lastPosition }!
        #expect(!log.segments[landed].unchecked)
        #expect(log.segments.dropLast().filter { !$0.unchecked }.count == 1)

        // A damaged or missing first entry: that segment is checked instead (its index rebuilt in
        // memory), and every answer is still right.
        let damaged = TemporaryDirectory()
        try LogFixture.append(damaged, batches: (1...120).map { "r\($0)" }.chunked(5), segmentBytes: 300)
        let paths = try LogFixture.segmentPaths(damaged)
        for (k, path) in paths.dropLast().enumerated() {
            let index = String(path.dropLast(4)) + ".idx"
            if k % 2 == 0 { FileDamage.flipBit(index, offset: 9) } else { try FileManager.default.removeItem(atPath: index) }
        }
        let reopened = try Log.open(directory: damaged.logDirectory)
        for position in Int64(1)...120 {
            #expect(try reopened.lastPosition(atOrBefore: 1_000_000 + position * 1_000 + 500) == UInt64(position))
        }
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

    @Test func batchesAreHandedOutWholeOrTrimmedToTheRangeAskedFor() throws {
        let dir = TemporaryDirectory()
        // Batches of 1, 3, 20 and 2 records: positions 1, 2-4, 5-24, 25-26.
        let sizes = [1, 3, 20, 2]
        var next = 0
        let batches = sizes.map { n in (0..<n).map { _ in next += 1; return "r\(next)" } }
        try LogFixture.append(dir, batches: batches)
        let log = try Log.open(directory: dir.logDirectory)
        for (from, through) in [(UInt64(1), UInt64.max), (3, 3), (3, 6), (5, 24), (6, 23), (24, 25), (26, 99)] {
            var seen: [(first: UInt64, count: Int, positions: [UInt64], payloads: [String])] = []
            try log.forEachBatch(from: from, through: through) { batch in
                seen.append((batch.firstPosition, batch.count, batch.map(\.position), batch.map { String(decoding: $0.payload, as: UTF8.self) }))
                return true
            }
            let wanted = Array(from...min(through, 26))
            #expect(seen.flatMap(\.positions) == wanted, "\(from)...\(through)")
            #expect(seen.flatMap(\.payloads) == wanted.map { "r\($0)" })
            for batch in seen {
                #expect(batch.positions == Array(batch.first..<(batch.first + UInt64(batch.count))))
            }
        }
        // Whole batches when the range covers them: one visit each.
        var counts: [Int] = []
        try log.forEachBatch(from: 1) { counts.append($0.count); return true }
        #expect(counts == sizes)
        // A visitor that returns false is not called again.
        var visits = 0
        try log.forEachBatch(from: 1) { _ in visits += 1; return false }
        #expect(visits == 1)
    }

    /// Read in place from mapped windows: the same batches and bytes as a buffered read, for
    /// any range, with windows smaller than a batch (mapped larger to hold it), as large as a
    /// segment, and across many segments; each batch lies inside the window handed with it,
    /// which keeps it readable after the read has moved on.
    @Test(arguments: [4096, 1 << 20])
    func mappedReadsHandOutTheBatchesABufferedReadDoes(windowBytes: Int) throws {
        let dir = TemporaryDirectory()
        var next = 0
        // Batches of 1 to 30 records; batch 20 holds 8 records of 20 KB, larger than the small window.
        let batches = (0..<40).map { k in
            (0..<(k == 20 ? 8 : 1 + (k * 11) % 30)).map { _ in next += 1; return "\(next):" + String(repeating: "y", count: k == 20 ? 20_000 : next % 50) }
        }
        try LogFixture.append(dir, batches: batches, segmentBytes: 16 << 10)
        #expect(try LogFixture.segmentPaths(dir).count > 2)
        let log = try Log.open(directory: dir.logDirectory)
        for (from, through) in [(UInt64(1), UInt64.max), (2, 3), (7, 400), (UInt64(next), .max)] {
            var buffered: [[UInt8]] = []
            try log.forEachBatch(from: from, through: through) { buffered.append(Array($0.frames)); return true }
            var mapped: [[UInt8]] = []
            var kept: [(RecordBatch, MappedRegion)] = []
            try log.forEachMappedBatch(from: from, through: through, windowBytes: windowBytes) { batch, region in
                #expect(batch.frames.baseAddress! >= region.bytes.baseAddress! && batch.frames.baseAddress! + batch.frames.count <= region.bytes.baseAddress! + region.bytes.count)
                mapped.append(Array(batch.frames))
                kept.append((batch, region))
                return true
            }
            #expect(mapped == buffered && !mapped.isEmpty, "\(from)...\(through)")
            // Held windows keep their batches' bytes valid after the read is over.
            #expect(kept.map { Array($0.0.frames) } == buffered)
        }
    }

    /// A read plan hands out the batches a read of its range does, after the log it was made
    /// from is gone, and plans of the ranges either side of a cut read on two threads at once
    /// hand out, together, what one read of the whole range does.
    @Test func readPlansReadWhatTheLogReadsEvenOnTwoThreadsAtOnce() throws {
        let dir = TemporaryDirectory()
        var next = 0
        let batches = (0..<60).map { k in (0..<(1 + (k * 7) % 25)).map { _ in next += 1; return "\(next):" + String(repeating: "q", count: next % 40) } }
        try LogFixture.append(dir, batches: batches, segmentBytes: 8 << 10)
        #expect(try LogFixture.segmentPaths(dir).count > 3)
        func frames(_ plan: ReadPlan) throws -> [[UInt8]] {
            var out: [[UInt8]] = []
            try plan.forEachMappedBatch { batch, _ in out.append(Array(batch.frames)); return true }
            return out
        }
        for (from, through) in [(UInt64(1), UInt64.max), (5, 6), (40, 333), (UInt64(next), .max), (UInt64(next) + 1, .max)] {
            var direct: [[UInt8]] = []
            try Log.open(directory: dir.logDirectory, lockHeld: true).forEachBatch(from: from, through: through) { direct.append(Array($0.frames)); return true }
            // Made by a log released before the plan is read.
            let plan = try { try Log.open(directory: dir.logDirectory, lockHeld: true).readPlan(from: from, through: through) }()
            #expect(try frames(plan) == direct, "\(from)...\(through)")
        }
        let log = try Log.open(directory: dir.logDirectory, lockHeld: true)
        var whole: [UInt64] = []
        try log.forEach(from: 1) { whole.append($0.position); return true }
        for cut in [UInt64(1), 100, UInt64(next / 2), UInt64(next - 1)] {
            let first = try log.readPlan(from: 1, through: cut), second = try log.readPlan(from: cut + 1)
            let other = Background { () throws -> [UInt64] in
                var positions: [UInt64] = []
                try second.forEachMappedBatch { batch, _ in positions += batch.map(\.position); return true }
                return positions
            }
            var positions: [UInt64] = []
            try first.forEachMappedBatch { batch, _ in positions += batch.map(\.position); return true }
            #expect(positions + (try other.join()) == whole, "cut at \(cut)")
        }
    }

    /// A plan that ends inside a batch reads it only through its own last record: damage after
    /// that record is the next plan's error (and a whole read's), not this one's.
    @Test func aPlanEndingInsideABatchReadsItOnlyThroughItsLastRecord() throws {
        let dir = TemporaryDirectory()
        let big = (1...30).map { $0 == 20 ? "needle" + String(repeating: "n", count: 50) : "record \($0) " + String(repeating: "r", count: 50) }
        try LogFixture.append(dir, batches: [["first"], big, ["last"]] + (1...40).map { ["filler \($0) " + String(repeating: "f", count: 200)] },
                              segmentBytes: 8 << 10)
        #expect(try LogFixture.segmentPaths(dir).count > 1)
        // Record 21 (the big batch's 20th) is damaged.
        let path = try LogFixture.segmentPaths(dir)[0]
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let at = bytes.range(of: Data("needle".utf8))!.lowerBound
        bytes[at] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: path))
        let log = try Log.open(directory: dir.logDirectory, lockHeld: true)
        for cut in [UInt64(2), 10, 20] {
            var positions: [UInt64] = []
            try log.readPlan(from: 1, through: cut).forEachMappedBatch { batch, _ in positions += batch.map(\.position); return true }
            #expect(positions == Array(1...cut), "through \(cut)")
            #expect(throws: StorageError.self, "from \(cut + 1)") { try log.readPlan(from: cut + 1).forEachMappedBatch { _, _ in true } }
            #expect(throws: StorageError.self, "a whole read through \(cut)") { try log.forEachBatch(from: 1, through: cut) { _ in true } }
        }
        // Past the damage, on its own.
        var after: [UInt64] = []
        try log.readPlan(from: 22, through: 31).forEachMappedBatch { batch, _ in after += batch.map(\.position); return true }
        #expect(after == Array(22...31))
    }

    /// A plan's end is its last record's frame as the segment has it: an index entry for that
    /// record that is damaged, or sound but with another size (its CRC made again), changes
    /// what the plan maps, never what it reads.
    @Test func aPlanEndsWithItsLastFrameWhateverItsIndexEntrySays() throws {
        let dir = TemporaryDirectory()
        try LogFixture.append(dir, batches: [(1...20).map { "record \($0) " + String(repeating: "x", count: $0 * 3) }, ["last"]])
        let index = try LogFixture.segmentPaths(dir)[0].replacingOccurrences(of: RecordFormat.segmentSuffix, with: RecordFormat.indexSuffix)
        let pristine = FileDamage.read(index)
        #expect(pristine.count == 21 * RecordFormat.indexEntryBytes)
        let cut: UInt64 = 12
        let at = Int(cut - 1) * RecordFormat.indexEntryBytes
        for damage in ["crc", "size smaller", "size larger"] {
            var bytes = pristine
            switch damage {
            case "crc": bytes[at + 28] ^= 0xFF
            default:
                let size = UInt32(bytes[at + 24]) | UInt32(bytes[at + 25]) << 8
                let wrong = damage == "size smaller" ? size - 1 : size + 7
                bytes[at + 24] = UInt8(wrong & 0xFF)
                bytes[at + 25] = UInt8(wrong >> 8)
                let crc = bytes[at..<(at + 28)].withUnsafeBytes { CRC32C.checksum($0) }
                for k in 0..<4 { bytes[at + 28 + k] = UInt8(truncatingIfNeeded: crc >> (8 * k)) }
            }
            FileDamage.write(bytes, index)
            let log = try Log.open(directory: dir.logDirectory, lockHeld: true)
            var positions: [UInt64] = []
            try log.readPlan(from: 1, through: cut).forEachMappedBatch { batch, _ in positions += batch.map(\.position); return true }
            #expect(positions == Array(1...cut), "index entry: \(damage)")
        }
    }

    /// A segment cut short after the log was opened (its committed bytes are never cut by a
    /// writer) is an error for a mapped read, as for a buffered one, and never touches a page
    /// past the end of the file (which would kill the process).
    @Test func mappedReadOfASegmentCutShortAfterOpeningIsAnError() throws {
        let dir = TemporaryDirectory()
        try LogFixture.append(dir, batches: (1...40).map { ["record \($0) " + String(repeating: "z", count: 200)] })
        let log = try Log.open(directory: dir.logDirectory)
        let path = try LogFixture.segmentPaths(dir)[0]
        FileDamage.truncate(path, to: FileDamage.size(path) / 2)
        for window in [4096, 1 << 20] {
            #expect(throws: StorageError.self) { try log.forEachMappedBatch(from: 1, windowBytes: window) { _, _ in true } }
        }
        #expect(throws: StorageError.self) { try log.forEachBatch(from: 1) { _ in true } }
    }

    @Test func prefetchingSeesEachRecordOnceAndAheadOfTheVisitor() throws {
        let dir = TemporaryDirectory()
        try LogFixture.append(dir, batches: [(1...30).map { "r\($0)" }, ["a", "b"]])
        let log = try Log.open(directory: dir.logDirectory)
        var events: [(prefetched: Bool, position: UInt64)] = []
        try log.forEachBatch(from: 1) { batch in
            batch.forEach(prefetching: { events.append((true, $0.position)) }) { events.append((false, $0.position)) }
            return true
        }
        let prefetched = events.filter(\.prefetched).map(\.position), visited = events.filter { !$0.prefetched }.map(\.position)
        #expect(prefetched == Array(1...32) && visited == Array(1...32))
        for p in UInt64(1)...32 {
            let at = events.firstIndex { $0.prefetched && $0.position == p }!
            let seen = events.firstIndex { !$0.prefetched && $0.position == p }!
            #expect(at < seen)
            // Within a batch the prefetcher runs Limits.prefetchRecords records ahead: the k-th
            // record of a batch (from 0) is prefetched once k - prefetchRecords have been visited.
            let visitedBefore = events[..<at].filter { !$0.prefetched }.count
            let batchStart = p <= 30 ? 0 : 30, k = Int(p) - 1 - batchStart
            #expect(visitedBefore == batchStart + max(0, k - Limits.prefetchRecords), "position \(p)")
        }
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
