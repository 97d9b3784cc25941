import Foundation
@testable import LedgerStorage
import LedgerTestSupport
import Testing

/// Batches appended while the one before is being made durable (an import's append): the same
/// bytes on disk as one append after another, each batch acknowledged in order and only once
/// durable, and a failed sync leaves exactly the acknowledged batches.
@Suite struct PipelinedAppendTests {
    static func payloads(_ batches: Int, seed: UInt64) -> [[String]] {
        var rng = SplitMix64(seed: seed)
        return (0..<batches).map { b in (0..<Int(1 + rng.next() % 40)).map { "batch \(b) record \($0) " + String(repeating: "x", count: Int(rng.next() % 90)) } }
    }

    /// Appends `batches` through a PipelinedAppend; the positions acknowledged, and the head the
    /// writer had when each was acknowledged.
    static func appendPipelined(_ dir: TemporaryDirectory, _ batches: [[String]], segmentBytes: Int, threaded: Bool,
                                sync: @escaping @Sendable (FileDescriptor) throws -> Void = { try $0.syncData() })
        throws -> (acknowledged: [ClosedRange<UInt64>], heads: [UInt64]) {
        let lock = try StoreLock.acquire(dir.path + "/LOCK", timeoutMillis: 1000)
        defer { lock.release() }
        let writer = try LogWriter(directory: dir.logDirectory, segmentBytes: segmentBytes, holding: lock)
        var acknowledged: [ClosedRange<UInt64>] = []
        var heads: [UInt64] = []
        let appender = PipelinedAppend(writer, threaded: threaded, sync: sync) { positions in
            acknowledged.append(positions)
            heads.append(writer.head.position)
        }
        var next = writer.makeBatch()
        do {
            for payloads in batches {
                var batch = next
                for payload in payloads {
                    try batch.append(timestampMicros: 1_000_000 + Int64(batch.nextPosition) * 1_000, type: 7, schemaVersion: 1,
                                     payload: Array(payload.utf8))
                }
                next = writer.makeBatch(following: batch)
                try appender.append(batch)
            }
            try appender.finish()
        } catch {
            throw PartialAppend(acknowledged: acknowledged, error: error)
        }
        return (acknowledged, heads)
    }

    struct PartialAppend: Error {
        let acknowledged: [ClosedRange<UInt64>]
        let error: Error
    }

    /// Every file of the log directory, by name, with its bytes.
    static func files(_ dir: TemporaryDirectory) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.logDirectory) {
            out[name] = try Data(contentsOf: URL(fileURLWithPath: dir.logDirectory + "/" + name))
        }
        return out
    }

    @Test(arguments: [(256, true), (256, false), (4096, true), (Limits.segmentBytesDefault, true), (Limits.segmentBytesDefault, false)])
    func theBytesAreThoseOfOneAppendAfterAnother(segmentBytes: Int, threaded: Bool) throws {
        let batches = Self.payloads(60, seed: UInt64(segmentBytes) &+ (threaded ? 1 : 0))
        let sequential = TemporaryDirectory(), pipelined = TemporaryDirectory()
        let ranges = try LogFixture.append(sequential, batches: batches, segmentBytes: segmentBytes,
                                           startMicros: 1_000_000, stepMicros: 1_000)
        let (acknowledged, heads) = try Self.appendPipelined(pipelined, batches, segmentBytes: segmentBytes, threaded: threaded)
        // Each batch acknowledged once, in order, the head at its last position when it is.
        #expect(acknowledged == ranges)
        #expect(heads == ranges.map(\.upperBound))
        let a = try Self.files(sequential), b = try Self.files(pipelined)
        #expect(a.keys.sorted() == b.keys.sorted())
        for (name, bytes) in a { #expect(b[name] == bytes, "\(name) differs") }
        if segmentBytes == 256 { #expect(a.count > 10, "the batches span many segments") }
        let log = try Log.open(directory: pipelined.logDirectory)
        #expect(log.head == (try Log.open(directory: sequential.logDirectory)).head)
        #expect(log.notes.isEmpty)
    }

    /// A sync that fails: the batches it would have made durable are never acknowledged, and
    /// the log reopens with exactly the acknowledged ones (the rest cut off).
    @Test(arguments: [(1, true), (3, true), (3, false), (7, true)])
    func aFailedSyncLeavesExactlyTheAcknowledgedBatches(failingSync: Int, threaded: Bool) throws {
        let dir = TemporaryDirectory()
        // 20 batches: the first is appended on its own (it begins the segment), and a sync covers
        // at most two of the other 19 (PipelinedAppend.writtenAhead), so at least ten syncs run.
        let batches = Self.payloads(20, seed: UInt64(failingSync))
        let calls = Counter()
        let failure = SystemError("fdatasync", path: "injected", errno: EIO)
        var acknowledged: [ClosedRange<UInt64>] = []
        do {
            _ = try Self.appendPipelined(dir, batches, segmentBytes: Limits.segmentBytesDefault, threaded: threaded) { fd in
                if calls.increment() == failingSync { throw failure }
                try fd.syncData()
            }
            Issue.record("the append did not fail")
        } catch let partial as PartialAppend {
            acknowledged = partial.acknowledged
            #expect(partial.error as? StorageError == StorageError.io(failure))
        }
        // The first batch began the log's segment: appended whole on its own, before any other.
        #expect(acknowledged.count < batches.count)
        let last = try #require(acknowledged.last)
        let (head, _) = try LogFixture.recover(dir)
        #expect(head.position == last.upperBound)
        let records = try LogFixture.readAll(dir)
        #expect(records.map(\.1) == Array(batches.joined().prefix(records.count)))
        #expect(records.count == Int(last.upperBound))
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
