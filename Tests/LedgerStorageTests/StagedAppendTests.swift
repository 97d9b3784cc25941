import Foundation
@testable import LedgerStorage
import LedgerTestSupport
import Testing

/// An import's append: batches written ahead of their commit records, committed at the end.
/// The same bytes on disk as one append after another; staged batches invisible to readers;
/// a rejected import, a failed sync or a crash leaves exactly the acknowledged batches.
@Suite struct StagedAppendTests {
    static func payloads(_ batches: Int, seed: UInt64) -> [[String]] {
        var rng = SplitMix64(seed: seed)
        return (0..<batches).map { b in (0..<Int(1 + rng.next() % 40)).map { "batch \(b) record \($0) " + String(repeating: "x", count: Int(rng.next() % 90)) } }
    }

    /// A writer on `dir`'s log; `body` gets it (the lock is held throughout).
    static func withWriter<R>(_ dir: TemporaryDirectory, segmentBytes: Int, _ body: (LogWriter) throws -> R) throws -> R {
        let lock = try StoreLock.acquire(dir.path + "/LOCK", timeoutMillis: 1000)
        defer { lock.release() }
        return try body(try LogWriter(directory: dir.logDirectory, segmentBytes: segmentBytes, holding: lock))
    }

    /// Stages `batches` (timestamps as LogFixture.append gives them).
    static func stage(_ batches: [[String]], _ writer: LogWriter, _ staged: StagedAppend) throws {
        var batch = writer.makeBatch()
        for payloads in batches {
            for payload in payloads {
                try batch.append(timestampMicros: 1_000_000 + Int64(batch.nextPosition) * 1_000, type: 7, schemaVersion: 1,
                                 payload: Array(payload.utf8))
            }
            try staged.stage(batch)
            batch.startNext()
        }
    }

    /// Every file of the log directory, by name, with its bytes.
    static func files(_ dir: TemporaryDirectory) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.logDirectory) {
            out[name] = try Data(contentsOf: URL(fileURLWithPath: dir.logDirectory + "/" + name))
        }
        return out
    }

    static func expectSameFiles(_ a: TemporaryDirectory, _ b: TemporaryDirectory, _ comment: Comment? = nil) throws {
        let x = try files(a), y = try files(b)
        #expect(x.keys.sorted() == y.keys.sorted(), comment)
        for (name, bytes) in x { #expect(y[name] == bytes, "\(name) differs \(comment.map { "\($0)" } ?? "")") }
    }

    struct Stop: Error {}

    @Test(arguments: [(256, true), (256, false), (4096, true), (Limits.segmentBytesDefault, true), (Limits.segmentBytesDefault, false)])
    func theBytesAreThoseOfOneAppendAfterAnother(segmentBytes: Int, threaded: Bool) throws {
        let batches = Self.payloads(60, seed: UInt64(segmentBytes) &+ (threaded ? 1 : 0))
        let sequential = TemporaryDirectory(), staged = TemporaryDirectory()
        // Ten batches first, appended as single commands do: staging goes on after them.
        try LogFixture.append(sequential, batches: Array(batches.prefix(10)), segmentBytes: segmentBytes, startMicros: 1_000_000, stepMicros: 1_000)
        try LogFixture.append(staged, batches: Array(batches.prefix(10)), segmentBytes: segmentBytes, startMicros: 1_000_000, stepMicros: 1_000)
        let ranges = try LogFixture.append(sequential, batches: Array(batches.dropFirst(10)), segmentBytes: segmentBytes,
                                           startMicros: 1_000_000, stepMicros: 1_000)
        let (acknowledged, heads) = try Self.withWriter(staged, segmentBytes: segmentBytes) { writer in
            let stagedAppend = StagedAppend(writer, threaded: threaded) { try $0.syncData() }
            try Self.stage(Array(batches.dropFirst(10)), writer, stagedAppend)
            var acknowledged: [ClosedRange<UInt64>] = [], heads: [UInt64] = []
            try stagedAppend.commitAll { positions in
                acknowledged.append(positions)
                heads.append(writer.head.position)
            }
            return (acknowledged, heads)
        }
        // Each batch acknowledged once, in order, the head at its last position when it is.
        #expect(acknowledged == ranges)
        #expect(heads == ranges.map(\.upperBound))
        try Self.expectSameFiles(sequential, staged)
        if segmentBytes == 256 { #expect(try Self.files(staged).count > 20, "the batches span many segments") }
        let log = try Log.open(directory: staged.logDirectory)
        #expect(log.head == (try Log.open(directory: sequential.logDirectory)).head)
        #expect(log.notes.isEmpty)
        #expect(try LogVerifier.verify(directory: staged.logDirectory).isSound)
    }

    /// Staged batches are not there for a reader, can be read back by the import, and are cut
    /// off whole by discard: the log's files are then byte for byte what they were.
    @Test(arguments: [256, 4096, Limits.segmentBytesDefault])
    func stagedBatchesAreInvisibleAndDiscardedWhole(segmentBytes: Int) throws {
        let batches = Self.payloads(30, seed: UInt64(segmentBytes))
        let dir = TemporaryDirectory(), before = TemporaryDirectory()
        try LogFixture.append(dir, batches: Array(batches.prefix(5)), segmentBytes: segmentBytes)
        try LogFixture.append(before, batches: Array(batches.prefix(5)), segmentBytes: segmentBytes)
        let head = try Log.open(directory: dir.logDirectory).head
        let rest = Array(batches.dropFirst(5))
        try Self.withWriter(dir, segmentBytes: segmentBytes) { writer in
            let staged = StagedAppend(writer)
            try Self.stage(rest, writer, staged)
            #expect(staged.batchCount == rest.count)
            // A reader sees the log as it was, with nothing to say about it: one that searches the
            // staged tail for a commit record, and one that leaves it to the writer at work.
            let reader = try Log.open(directory: dir.logDirectory)
            #expect(reader.head == head)
            #expect(reader.notes.isEmpty)
            let lockPath = dir.path + "/LOCK"
            #expect(StoreLock.isHeld(lockPath))
            let leaving = try Log.open(directory: dir.logDirectory, writerAtWork: { StoreLock.isHeld(lockPath) })
            #expect(leaving.head == head && leaving.notes.isEmpty)
            #expect(try LogFixture.readAll(dir).count == Int(head.position))
            if segmentBytes == 256 {
                #expect(try FileManager.default.contentsOfDirectory(atPath: dir.logDirectory).contains { $0.hasPrefix(StagedAppend.stagingPrefix) })
            }
            // The import reads its own staged records back.
            let all = rest.joined().map { $0 }
            for (i, text) in all.enumerated() where i % 7 == 0 || i == all.count - 1 {
                let r = try #require(try staged.record(at: head.position + UInt64(i) + 1))
                #expect(r.type == 7 && r.schemaVersion == 1 && String(decoding: r.payload, as: UTF8.self) == text)
            }
            #expect(try staged.record(at: head.position) == nil)
            #expect(try staged.record(at: head.position + UInt64(all.count) + 1) == nil)
            staged.discard()
        }
        try Self.expectSameFiles(before, dir)
        let (recovered, notes) = try LogFixture.recover(dir, segmentBytes: segmentBytes)
        #expect(recovered == head && notes.isEmpty)
    }

    /// A writer killed after committing k of the staged batches (k = 0: before the first): the
    /// next opener finds exactly those k, cuts the rest with a note, removes staging files, and
    /// the log verifies and takes further appends.
    @Test(arguments: [(256, 0), (256, 3), (256, 17), (4096, 0), (4096, 9), (Limits.segmentBytesDefault, 0), (Limits.segmentBytesDefault, 12)])
    func aCrashLeavesExactlyTheCommittedBatches(segmentBytes: Int, committing k: Int) throws {
        let batches = Self.payloads(25, seed: UInt64(segmentBytes + k))
        let dir = TemporaryDirectory()
        try LogFixture.append(dir, batches: Array(batches.prefix(3)), segmentBytes: segmentBytes)
        let rest = Array(batches.dropFirst(3))
        var acknowledged: [ClosedRange<UInt64>] = []
        try Self.withWriter(dir, segmentBytes: segmentBytes) { writer in
            let staged = StagedAppend(writer)
            try Self.stage(rest, writer, staged)
            if k == 0 {
                staged.abandon()
                return
            }
            #expect(throws: Stop.self) {
                try staged.commitAll { positions in
                    acknowledged.append(positions)
                    if acknowledged.count == k {
                        staged.abandon()
                        throw Stop()
                    }
                }
            }
        }
        let expected = Array(batches.prefix(3 + k).joined())
        let (head, notes) = try LogFixture.recover(dir, segmentBytes: segmentBytes)
        #expect(head.position == UInt64(expected.count))
        #expect(!notes.isEmpty, "the cut is reported")
        #expect(try LogFixture.readAll(dir).map(\.1) == expected)
        #expect(try !FileManager.default.contentsOfDirectory(atPath: dir.logDirectory).contains { $0.hasPrefix(StagedAppend.stagingPrefix) })
        try LogFixture.append(dir, batches: [["after the crash"]], segmentBytes: segmentBytes)
        let report = try LogVerifier.verify(directory: dir.logDirectory)
        #expect(report.isSound, "\(report.problems)")
        #expect(report.head.position == UInt64(expected.count + 1))
    }

    /// A sync that fails: the batches it would have made durable are never acknowledged, and
    /// the log reopens with exactly the acknowledged ones (the rest cut off).
    @Test(arguments: [(1, true), (3, true), (3, false), (7, true)])
    func aFailedSyncLeavesExactlyTheAcknowledgedBatches(failingSync: Int, threaded: Bool) throws {
        let dir = TemporaryDirectory()
        let batches = Self.payloads(20, seed: UInt64(failingSync))
        let calls = Counter()
        let failure = SystemError("fdatasync", path: "injected", errno: EIO)
        var acknowledged: [ClosedRange<UInt64>] = []
        try Self.withWriter(dir, segmentBytes: 4096) { writer in
            let staged = StagedAppend(writer, threaded: threaded) { fd in
                if calls.increment() == failingSync { throw failure }
                try fd.syncData()
            }
            try Self.stage(batches, writer, staged)
            do {
                try staged.commitAll { acknowledged.append($0) }
                Issue.record("the commit did not fail")
            } catch {
                #expect(error as? StorageError == StorageError.io(failure))
            }
            #expect(writer.failed)
        }
        #expect(acknowledged.count == failingSync - 1)
        let (head, _) = try LogFixture.recover(dir, segmentBytes: 4096)
        #expect(head.position == acknowledged.last?.upperBound ?? 0)
        let records = try LogFixture.readAll(dir)
        #expect(records.map(\.1) == Array(batches.joined().prefix(records.count)))
        #expect(records.count == Int(head.position))
        #expect(try !FileManager.default.contentsOfDirectory(atPath: dir.logDirectory).contains { $0.hasPrefix(StagedAppend.stagingPrefix) })
    }
}

/// A count shared with a sync closure (which may run on the syncer's thread).
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func increment() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }
}
