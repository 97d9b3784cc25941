import Foundation
@testable import LedgerStorage
import LedgerTestSupport
import Testing

/// One test per kind of damage: write a store, damage it precisely, reopen, assert what is
/// reported and what is kept.
@Suite struct RecoveryTests {
    /// Writes batches, returns the segment path and its size before the last batch.
    func store(_ dir: TemporaryDirectory, _ batches: [[String]]) throws -> (path: String, sizeBeforeLast: Int) {
        try LogFixture.append(dir, batches: Array(batches.dropLast()))
        let path = dir.logDirectory + "/" + RecordFormat.segmentName(base: 1)
        let before = FileDamage.size(path)
        try LogFixture.append(dir, batches: [batches.last!])
        return (path, before)
    }

    @Test(arguments: [["only"], ["x", "yy", "zzz"]])
    func tornTailAtEveryOffsetIsCutBack(lastBatch: [String]) throws {
        let template = TemporaryDirectory()
        let (path, before) = try store(template, [["a"], ["b", "c"], lastBatch])
        let full = FileDamage.read(path)
        let index = FileDamage.read(template.logDirectory + "/" + RecordFormat.indexName(base: 1))
        for cut in before..<full.count {
            let dir = TemporaryDirectory()
            try FileManager.default.createDirectory(atPath: dir.logDirectory, withIntermediateDirectories: true)
            FileDamage.write(Array(full[..<cut]), dir.logDirectory + "/" + RecordFormat.segmentName(base: 1))
            // The index never runs ahead of durable data: it holds only the first batches.
            FileDamage.write(Array(index[..<(3 * 32)]), dir.logDirectory + "/" + RecordFormat.indexName(base: 1))
            // A reader sees exactly the committed prefix, changing nothing.
            #expect(try LogFixture.readAll(dir).map(\.1) == ["a", "b", "c"], "cut at \(cut)")
            #expect(FileDamage.size(dir.logDirectory + "/" + RecordFormat.segmentName(base: 1)) == cut)
            let (head, notes) = try LogFixture.recover(dir)
            #expect(head.position == 3, "cut at \(cut)")
            #expect(FileDamage.size(dir.logDirectory + "/" + RecordFormat.segmentName(base: 1)) == before, "cut at \(cut)")
            if cut > before {
                #expect(notes.contains { if case .tailCut(_, before, cut - before, _) = $0 { true } else { false } }, "cut at \(cut): \(notes)")
            }
            // Appending after recovery works and verify is clean.
            try LogFixture.append(dir, batches: [["again"]])
            #expect(try LogFixture.readAll(dir).map(\.1) == ["a", "b", "c", "again"])
            #expect(try LogVerifier.verify(directory: dir.logDirectory).isSound, "cut at \(cut)")
        }
    }

    @Test func completeButUnindexedBatchIsKeptAndIndexed() throws {
        // A crash after fdatasync but before the index write: the batch is durable and stays.
        let dir = TemporaryDirectory()
        _ = try store(dir, [["a"], ["b", "c"]])
        let indexPath = dir.logDirectory + "/" + RecordFormat.indexName(base: 1)
        FileDamage.truncate(indexPath, to: 32)
        let (head, notes) = try LogFixture.recover(dir)
        #expect(head.position == 3)
        #expect(notes.contains { if case .indexRebuilt = $0 { true } else { false } })
        #expect(FileDamage.size(indexPath) == 3 * 32)
        #expect(try LogVerifier.verify(directory: dir.logDirectory).isSound)
    }

    @Test(arguments: [0x00, 0xAB])
    func garbageOrZeroFilledTailIsCutBack(fill: Int) throws {
        let dir = TemporaryDirectory()
        let (path, _) = try store(dir, [["a"], ["b"]])
        let good = FileDamage.size(path)
        FileDamage.append(path, [UInt8](repeating: UInt8(fill), count: 4096))
        let (head, notes) = try LogFixture.recover(dir)
        #expect(head.position == 2)
        #expect(FileDamage.size(path) == good)
        #expect(notes.count == 1)
        #expect(try LogVerifier.verify(directory: dir.logDirectory).isSound)
    }

    @Test func flippedBitInMiddleRecordIsReportedWithPosition() throws {
        let dir = TemporaryDirectory()
        let (path, _) = try store(dir, [["a"], ["bbbb"], ["c"], ["d"]])
        // Record 2 starts after the header, record 1 (8+20+1) and its commit.
        let record2 = 32 + 29 + RecordFormat.commitFrameBytes
        FileDamage.flipBit(path, offset: record2 + 30, bit: 3)
        let size = FileDamage.size(path)
        // Readers fail with the exact place.
        #expect(throws: StorageError.corruptRecord(segment: RecordFormat.segmentName(base: 1), offset: record2, position: 2, reason: "CRC mismatch")) {
            try LogFixture.readAll(dir)
        }
        // Verify names it.
        let report = try LogVerifier.verify(directory: dir.logDirectory)
        #expect(!report.isSound)
        #expect(report.problems.count == 1)
        #expect(report.problems[0].contains("byte offset \(record2) (position 2)"))
        // Opening for write does not cut it away: nothing is truncated.
        _ = try? LogFixture.recover(dir)
        #expect(FileDamage.size(path) == size)
    }

    @Test func damageInLastIndexedBatchIsCorruptionNotATornTail() throws {
        let dir = TemporaryDirectory()
        let (path, before) = try store(dir, [["a"], ["b"]])
        FileDamage.flipBit(path, offset: before + 12)
        let size = FileDamage.size(path)
        #expect(throws: StorageError.self) { try LogFixture.recover(dir) }
        #expect(FileDamage.size(path) == size)
    }

    /// Three one-record batches, their index removed so that nothing vouches for them, the
    /// middle one's record damaged: a bad batch followed by a good commit record.
    func middleBatchDamaged(_ dir: TemporaryDirectory) throws {
        let (path, _) = try store(dir, [["a"], ["b"], ["c"]])
        FileDamage.remove(dir.logDirectory + "/" + RecordFormat.indexName(base: 1))
        let record2 = 32 + 29 + RecordFormat.commitFrameBytes
        FileDamage.zero(path, range: (record2 + 10)..<(record2 + 20))
    }

    @Test func damagedBatchFollowedByAGoodCommitIsCorruption() throws {
        let dir = TemporaryDirectory()
        try middleBatchDamaged(dir)
        #expect {
            try LogFixture.recover(dir)
        } throws: { error in
            guard case StorageError.corruptRecord(_, _, let position, _) = error else { return false }
            return position == 2
        }
    }

    /// The same damage with a writer at work (its lock held): a reader told how to see that
    /// stops at the last complete batch, leaving the rest of the file to the writer (a batch it
    /// is appending, an import's staged batches), which still finds the corruption; a reader
    /// that finds no writer at work, or is not told how to look, reports it.
    @Test func aReaderLeavesTheIncompleteTailToAWriterAtWork() throws {
        let dir = TemporaryDirectory()
        try middleBatchDamaged(dir)
        let lockPath = dir.path + "/LOCK"
        func isCorruption(_ error: any Error) -> Bool {
            if case StorageError.corruptRecord(_, _, 2, _) = error { return true }
            return false
        }
        #expect(!StoreLock.isHeld(lockPath), "no lock file yet")
        #expect { try Log.open(directory: dir.logDirectory, writerAtWork: { StoreLock.isHeld(lockPath) }) } throws: { isCorruption($0) }
        let lock = try StoreLock.acquire(lockPath, timeoutMillis: 1000)
        #expect(StoreLock.isHeld(lockPath))
        let reader = try Log.open(directory: dir.logDirectory, writerAtWork: { StoreLock.isHeld(lockPath) })
        #expect(reader.head.position == 1 && reader.notes.isEmpty)
        #expect { try Log.open(directory: dir.logDirectory) } throws: { isCorruption($0) }
        #expect { try Log.open(directory: dir.logDirectory, allSegments: true) } throws: { isCorruption($0) }
        lock.release()
        #expect(!StoreLock.isHeld(lockPath))
        #expect { try Log.open(directory: dir.logDirectory, writerAtWork: { StoreLock.isHeld(lockPath) }) } throws: { isCorruption($0) }
        // The writer applies recovery rule 3 whatever it is told.
        #expect { try LogFixture.recover(dir) } throws: { isCorruption($0) }
    }

    @Test func editedRecordWithRecomputedCRCFailsVerifyNamingItsPosition() throws {
        let dir = TemporaryDirectory()
        let (path, _) = try store(dir, [["a"], ["amount=100"], ["c"]])
        var bytes = FileDamage.read(path)
        let record2 = 32 + 29 + RecordFormat.commitFrameBytes
        let payload = record2 + 8 + 20
        #expect(Array(bytes[payload..<(payload + 10)]) == Array("amount=100".utf8))
        bytes[payload + 7] = UInt8(ascii: "9")
        let body = Array(bytes[(record2 + 8)..<(record2 + 8 + 30)])
        let crc = CRC32C.checksum(body)
        for i in 0..<4 { bytes[record2 + 4 + i] = UInt8((crc >> (8 * UInt32(i))) & 0xFF) }
        FileDamage.write(bytes, path)
        // CRCs all pass, so readers cannot tell; the chain can.
        #expect(try LogFixture.readAll(dir).map(\.1) == ["a", "amount=900", "c"])
        let report = try LogVerifier.verify(directory: dir.logDirectory)
        #expect(!report.isSound)
        #expect(report.problems.count == 1)
        #expect(report.problems[0].contains("position 2"), "\(report.problems)")
        #expect(report.problems[0].contains("hash chain"))
    }

    @Test func consistentlyRewrittenSuffixIsCaughtOnlyByExpectHead() throws {
        let original = TemporaryDirectory()
        try LogFixture.append(original, batches: [["a"], ["b"], ["c"]])
        let kept = try Log.open(directory: original.logDirectory).head
        #expect(try LogVerifier.verify(directory: original.logDirectory, expectHead: (kept.position, kept.chain)).isSound)
        // A forger rewrites history from position 2 on with valid CRCs and a recomputed chain.
        let forged = TemporaryDirectory()
        try LogFixture.append(forged, batches: [["a"], ["B"], ["c"]])
        let plain = try LogVerifier.verify(directory: forged.logDirectory)
        #expect(plain.isSound)
        let checked = try LogVerifier.verify(directory: forged.logDirectory, expectHead: (kept.position, kept.chain))
        #expect(!checked.isSound)
        #expect(checked.expectedHeadMatched == false)
        // An earlier head still matches: history up to position 1 is intact.
        let head1 = try Log.open(directory: original.logDirectory)
        var chainAt1: [UInt8] = []
        _ = head1
        let one = TemporaryDirectory()
        try LogFixture.append(one, batches: [["a"]])
        chainAt1 = try Log.open(directory: one.logDirectory).head.chain
        #expect(try LogVerifier.verify(directory: forged.logDirectory, expectHead: (1, chainAt1)).isSound)
    }

    @Test func expectHeadInsideABatchIsRejectedClearly() throws {
        let dir = TemporaryDirectory()
        try LogFixture.append(dir, batches: [["a", "b"], ["c"]])
        let report = try LogVerifier.verify(directory: dir.logDirectory, expectHead: (1, LogHead.genesisChain))
        #expect(!report.isSound)
        #expect(report.problems.first?.contains("not the end of a committed batch") == true)
        let beyond = try LogVerifier.verify(directory: dir.logDirectory, expectHead: (9, LogHead.genesisChain))
        #expect(beyond.problems.first?.contains("beyond the head") == true)
    }

    // MARK: Index damage: derived data, rebuilt and reported.

    enum IndexDamage: String, CaseIterable, Sendable { case deleted, truncated, overLong, badEntry, badFirstEntry }

    @Test(arguments: IndexDamage.allCases)
    func damagedIndexIsRebuiltAndReported(damage: IndexDamage) throws {
        let dir = TemporaryDirectory()
        try LogFixture.append(dir, batches: (1...60).map { "r\($0)" }.chunked(4), segmentBytes: 400)
        let log0 = try Log.open(directory: dir.logDirectory)
        #expect(log0.segments.count >= 3)
        // Damage a sealed segment's index and the last one's.
        for segment in [log0.segments[1], log0.segments.last!] {
            let path = segment.indexPath
            let size = FileDamage.size(path)
            switch damage {
            case .deleted: FileDamage.remove(path)
            case .truncated: FileDamage.truncate(path, to: size - 40)
            case .overLong: FileDamage.append(path, [UInt8](repeating: 7, count: 64))
            case .badEntry: FileDamage.flipBit(path, offset: size - 20)
            case .badFirstEntry: FileDamage.flipBit(path, offset: 3)
            }
        }
        let (head, notes) = try LogFixture.recover(dir, segmentBytes: 400)
        #expect(head.position == 60)
        let rebuilt = notes.filter { if case .indexRebuilt = $0 { true } else { false } }
        #expect(rebuilt.count == 2, "\(notes)")
        let log = try Log.open(directory: dir.logDirectory)
        for position in UInt64(1)...60 {
            #expect(try log.timestamp(ofPosition: position) == 1_000_000 + Int64(position) * 1_000)
        }
        #expect(try LogVerifier.verify(directory: dir.logDirectory).notes.isEmpty)
        #expect(try LogVerifier.verify(directory: dir.logDirectory).isSound)
    }

    @Test func readerWithDamagedMiddleIndexEntryStillAnswers() throws {
        let dir = TemporaryDirectory()
        try LogFixture.append(dir, batches: (1...40).map { "r\($0)" }.chunked(2))
        let indexPath = dir.logDirectory + "/" + RecordFormat.indexName(base: 1)
        FileDamage.flipBit(indexPath, offset: 20 * 32 + 5)
        let log = try Log.open(directory: dir.logDirectory)
        #expect(try log.timestamp(ofPosition: 21) == 1_000_000 + 21_000)
        #expect(try log.lastPosition(atOrBefore: 1_000_000 + 21_000) == 21)
        var seen: [UInt64] = []
        try log.forEach(from: 21) { seen.append($0.position); return true }
        #expect(seen == Array(21...40))
        #expect(!log.notes.isEmpty)
        // verify mentions the disagreement (as a note: the index is derived).
        let report = try LogVerifier.verify(directory: dir.logDirectory)
        #expect(report.isSound)
        #expect(report.notes.contains { $0.contains("disagree") })
    }

    // MARK: Segment-level damage

    @Test func missingMiddleSegmentIsAGap() throws {
        let dir = TemporaryDirectory()
        try LogFixture.append(dir, batches: (1...30).map { "r\($0)" }.chunked(3), segmentBytes: 256)
        let segments = try LogFixture.segmentPaths(dir)
        FileDamage.remove(segments[1])
        func isGap(_ error: Error) -> Bool {
            if case StorageError.missingSegment = error { return true }
            return false
        }
        // Checking every segment (verify, info, the writer): found on open.
        #expect { try Log.open(directory: dir.logDirectory, allSegments: true) } throws: { isGap($0) }
        #expect { try LogFixture.recover(dir, segmentBytes: 256) } throws: { isGap($0) }
        // A reader checks a sealed segment when it first reads it: the gap is found there.
        let log = try Log.open(directory: dir.logDirectory)
        #expect { try log.forEach(from: 1) { _ in true } } throws: { isGap($0) }
        // Every later read meets the same gap (a failed check leaves the segment as it was).
        #expect { try log.forEach(from: 1) { _ in true } } throws: { isGap($0) }
        #expect { try log.timestamp(ofPosition: 1) } throws: { isGap($0) }
        #expect(try LogVerifier.verify(directory: dir.logDirectory).isSound == false)
    }

    @Test func aReaderOpensOnlyTheLastSegmentAndChecksASealedOneOnFirstUse() throws {
        let dir = TemporaryDirectory()
        try LogFixture.append(dir, batches: (1...30).map { "r\($0)" }.chunked(3), segmentBytes: 256)
        let segments = try LogFixture.segmentPaths(dir)
        #expect(segments.count >= 3)
        let sound = try Log.open(directory: dir.logDirectory)
        let all = try Log.open(directory: dir.logDirectory, allSegments: true)
        #expect(sound.head == all.head)
        #expect(sound.segments.map(\.lastPosition) == all.segments.map(\.lastPosition))
        #expect(try (1...30).map { try sound.timestamp(ofPosition: UInt64($0)) } == (1...30).map { try all.timestamp(ofPosition: UInt64($0)) })
        // A torn first segment: the head, the last segment and time lookups in it still answer;
        // reading the torn one is corruption, and verify reports it.
        FileDamage.truncate(segments[0], to: FileDamage.size(segments[0]) - 10)
        let log = try Log.open(directory: dir.logDirectory)
        #expect(log.head.position == 30)
        var tail: [UInt64] = []
        try log.forEach(from: 28) { tail.append($0.position); return true }
        #expect(tail == [28, 29, 30])
        #expect(throws: StorageError.self) { try log.forEach(from: 1) { _ in true } }
        #expect(throws: StorageError.self) { try Log.open(directory: dir.logDirectory, allSegments: true) }
        #expect(try LogVerifier.verify(directory: dir.logDirectory).isSound == false)
    }

    /// The crash that leaves the very first segment without a header: an empty store, sound.
    @Test func tornFirstSegmentCreationIsAnEmptyStore() throws {
        let dir = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.logDirectory, withIntermediateDirectories: true)
        FileDamage.write([], dir.logDirectory + "/" + RecordFormat.segmentName(base: 1))
        let report = try LogVerifier.verify(directory: dir.logDirectory)
        #expect(report.isSound && report.head.position == 0 && report.records == 0)
        try LogFixture.append(dir, batches: [["a"]])
        #expect(try LogFixture.readAll(dir).map(\.1) == ["a"])
        #expect(try LogVerifier.verify(directory: dir.logDirectory).isSound)
    }

    /// A bad header on a last segment that does hold a committed batch is corruption, for verify too.
    @Test func damagedHeaderBeforeACommittedBatchIsCorruption() throws {
        let dir = TemporaryDirectory()
        try LogFixture.append(dir, batches: [["a"], ["b"]])
        let path = try LogFixture.segmentPaths(dir)[0]
        var bytes = FileDamage.read(path)
        bytes[3] ^= 0x40
        FileDamage.write(bytes, path)
        #expect(throws: StorageError.self) { try LogFixture.readAll(dir) }
        #expect(try LogVerifier.verify(directory: dir.logDirectory).isSound == false)
    }

    @Test func tornSealedSegmentIsCorruption() throws {
        let dir = TemporaryDirectory()
        try LogFixture.append(dir, batches: (1...30).map { "r\($0)" }.chunked(3), segmentBytes: 256)
        let segments = try LogFixture.segmentPaths(dir)
        FileDamage.truncate(segments[0], to: FileDamage.size(segments[0]) - 10)
        #expect(throws: StorageError.self) { try LogFixture.recover(dir, segmentBytes: 256) }
    }

    /// A crash while creating the next segment left no header or half of one (`headerBytes`).
    @Test(arguments: [0, 5])
    func tornSegmentCreationIsRepaired(headerBytes: Int) throws {
        let dir = TemporaryDirectory()
        try LogFixture.append(dir, batches: [["a"]])
        let next = dir.logDirectory + "/" + RecordFormat.segmentName(base: 2)
        FileDamage.write(Array(RecordFormat.segmentMagic.prefix(headerBytes)), next)
        #expect(try LogFixture.readAll(dir).map(\.1) == ["a"])
        // Before any writer repairs it, a reader's verify calls it a torn tail, not corruption.
        let before = try LogVerifier.verify(directory: dir.logDirectory)
        #expect(before.isSound && before.head.position == 1 && before.records == 1)
        #expect(before.notes.contains { $0.contains(RecordFormat.segmentName(base: 2)) })
        let (head, notes) = try LogFixture.recover(dir)
        #expect(head.position == 1)
        #expect(!notes.isEmpty)
        try LogFixture.append(dir, batches: [["b"]])
        #expect(try LogFixture.readAll(dir).map(\.1) == ["a", "b"])
        #expect(try LogVerifier.verify(directory: dir.logDirectory).isSound)
    }

    @Test func newerFormatVersionIsRefused() throws {
        let dir = TemporaryDirectory()
        try LogFixture.append(dir, batches: [["a"]])
        let path = try LogFixture.segmentPaths(dir)[0]
        var bytes = FileDamage.read(path)
        bytes[8] = 9
        let crc = CRC32C.checksum(Array(bytes[0..<28]))
        for i in 0..<4 { bytes[28 + i] = UInt8((crc >> (8 * UInt32(i))) & 0xFF) }
        FileDamage.write(bytes, path)
        #expect(throws: StorageError.formatTooNew(segment: RecordFormat.segmentName(base: 1), found: 9, newestKnown: 1)) {
            try Log.open(directory: dir.logDirectory)
        }
    }
}
