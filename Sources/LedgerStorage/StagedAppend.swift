// An import's append: each batch is written to the log's files as soon as it is built,
// ahead of its commit record, and the commit records are written once every line is
// validated, one durable batch at a time. The bytes that end up on disk are exactly those
// of one LogWriter.append after another; only the moment each is written changes.
//
// Until its commit record is there a batch does not exist (FORMAT.md, commit rule). A
// staged batch's frames are followed by the 68 zero bytes its commit record will fill: an
// opener or a reader stops at them (a zero-filled frame) and finds no commit record after
// them, so to both the staged batches are a torn tail: invisible to a reader, cut by the
// next writer after a crash, and cut by `discard` when the import is rejected.
//
// A batch that begins a new segment is staged in a file named ".staged-<segment name>",
// which no reader lists. It is renamed into place when its first batch is committed, once
// every batch before it is durable, so a sealed segment never lacks its commit records.
// An opener that repairs removes such a file left by a crash.
//
// Committing batch k: its commit record is written and fdatasync'ed (a file's first sync
// also makes its staged frames durable; each staged write started their write-back), and
// then the batch is acknowledged (the head moves, its index entries are written). Commit
// k+1 is written only after that sync has returned, so no durable commit record ever
// follows a missing one. A commit record's chain value (SHA-256 over the previous one and
// the batch's frames) is computed then too, from the frames read back, while the sync
// before it runs: not while lines are validated, when both cores are busy.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

public final class StagedAppend {
    /// The name of a segment being staged is this prefix and the segment's name.
    public static let stagingPrefix = ".staged-"

    /// A segment file that batches are staged in: the log's last segment, in place, or a new
    /// one under its staging name.
    private final class File {
        let segment: Segment
        let fd: FileDescriptor
        /// Its staging name, until it is put in place; nil for the last segment, staged in place.
        var stagingPath: String?
        /// Bytes written, staged or committed, or being written (a write that fails halfway
        /// counts whole, so that `discard` cuts what it left).
        var end: Int
        /// Records it holds, staged or committed.
        var records: UInt64

        init(segment: Segment, fd: FileDescriptor, stagingPath: String?, end: Int, records: UInt64) {
            self.segment = segment
            self.fd = fd
            self.stagingPath = stagingPath
            self.end = end
            self.records = records
        }
    }

    private struct Staged {
        let file: File
        /// What the writer acknowledges once the commit record is durable (its chain value and
        /// index entries are made then); `created` when it begins its segment file.
        var written: LogWriter.Written
        let framesOffset: Int

        var positions: ClosedRange<UInt64> { written.positions }
        var commitOffset: Int { written.endOffset - RecordFormat.commitFrameBytes }
        var frameBytes: Int { commitOffset - framesOffset }
    }

    /// What a staged batch's commit record takes the place of until it is written.
    private static let commitGap = [UInt8](repeating: 0, count: RecordFormat.commitFrameBytes)

    private let writer: LogWriter
    private let threaded: Bool
    private let sync: @Sendable (FileDescriptor) throws -> Void
    private var files: [File] = []
    private var staged: [Staged] = []
    /// The position the next batch staged starts at.
    private var nextPosition: UInt64
    /// Committed or discarded: nothing more to do.
    private var finished = false

    public convenience init(_ writer: LogWriter) {
        self.init(writer, threaded: true, sync: { try $0.syncData() })
    }

    /// `sync` makes a file's written bytes durable (the tests make it fail); `threaded: false`
    /// syncs on the caller's thread.
    init(_ writer: LogWriter, threaded: Bool, sync: @escaping @Sendable (FileDescriptor) throws -> Void) {
        self.writer = writer
        self.threaded = threaded
        self.sync = sync
        nextPosition = writer.head.position + 1
    }

    deinit { discard() }

    public var batchCount: Int { staged.count }

    /// Writes `batch`, which follows the last one staged, to its segment, without its commit record.
    public func stage(_ batch: Batch) throws {
        precondition(!finished && !writer.failed, "staging after the staged batches were committed or discarded")
        precondition(!batch.isEmpty && batch.firstPosition == nextPosition, "batch was made for another head")
        let file = try file(for: batch)
        let begins = file.end < RecordFormat.segmentHeaderBytes
        let writeOffset = begins ? 0 : file.end
        let framesOffset = begins ? RecordFormat.segmentHeaderBytes : file.end
        let header = begins ? SegmentHeader.encode(base: file.segment.base) : []
        let end = framesOffset + batch.byteCount + RecordFormat.commitFrameBytes
        file.end = end
        try StorageError.wrapping {
            try header.withUnsafeBytes { h in
                try batch.frames.withUnsafeBytes { f in
                    try Self.commitGap.withUnsafeBytes { g in try file.fd.writeAll([h, f, g], at: writeOffset) }
                }
            }
        }
        // On its way to the disk while the import goes on: the commit's fdatasync waits for less.
        file.fd.startWriteBack(offset: writeOffset, count: end - writeOffset)
        let written = LogWriter.Written(segment: file.segment, fd: file.fd, created: begins, writeOffset: writeOffset, endOffset: end,
                                        positions: batch.firstPosition...(batch.nextPosition - 1),
                                        lastTimestampMicros: batch.lastTimestampMicros, chain: [], indexEntries: [])
        staged.append(Staged(file: file, written: written, framesOffset: framesOffset))
        file.records += UInt64(batch.count)
        nextPosition = batch.nextPosition
    }

    /// The file the next batch goes to, by the roll-over rule (FORMAT.md): the last one while
    /// it holds fewer than segment_bytes bytes (or no record), else a new segment named by the
    /// batch's first position.
    private func file(for batch: Batch) throws -> File {
        if let last = files.last {
            if writer.segmentTakesNextBatch(bytes: last.end, records: last.records) { return last }
        } else if let last = writer.log.segments.last, writer.segmentTakesNextBatch(bytes: last.committedBytes, records: last.recordCount) {
            let fd = try StorageError.wrapping { try FileDescriptor.open(last.path, O_RDWR) }
            let file = File(segment: last, fd: fd, stagingPath: nil, end: last.committedBytes, records: last.recordCount)
            files.append(file)
            return file
        }
        let segment = Segment(base: batch.firstPosition, directory: writer.log.directory)
        let path = writer.log.directory + "/" + Self.stagingPrefix + segment.name
        let fd = try StorageError.wrapping { try FileDescriptor.open(path, O_RDWR | O_CREAT | O_TRUNC) }
        let file = File(segment: segment, fd: fd, stagingPath: path, end: 0, records: 0)
        files.append(file)
        return file
    }

    /// The record staged at `position` (type, schema version, payload), or nil if none is.
    public func record(at position: UInt64) throws -> (type: UInt16, schemaVersion: UInt16, payload: [UInt8])? {
        // The batch holding it: the last whose first position is not after it.
        var lo = 0, hi = staged.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if staged[mid].positions.lowerBound <= position { lo = mid + 1 } else { hi = mid }
        }
        guard lo > 0, staged[lo - 1].positions.contains(position) else { return nil }
        let s = staged[lo - 1]
        let frames = try StorageError.wrapping { try s.file.fd.read(count: s.frameBytes, at: s.framesOffset) }
        guard frames.count == s.frameBytes else { throw StorageError.io(SystemError("read", path: s.file.fd.path, errno: EIO)) }
        return frames.withUnsafeBytes { Batch.record(at: position, in: $0) }
    }

    /// Commits every staged batch, in order, each made durable before the next; `committed` is
    /// told each one's positions once it is acknowledged. On a failure the batches not yet
    /// acknowledged are cut off and the writer is left failed (the log must be reopened).
    public func commitAll(_ committed: (ClosedRange<UInt64>) throws -> Void) throws {
        precondition(!finished, "staged batches committed twice")
        defer { discard() }
        let syncer = DataSyncer(threaded: threaded, sync: sync)
        defer { syncer.stop() }
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: staged.map(\.frameBytes).max() ?? 0, alignment: 8)
        defer { scratch.deallocate() }
        // Batch k's commit record, chain value and index entries, from its frames as written.
        func complete(_ k: Int, previousChain: [UInt8]) throws -> (commit: [UInt8], written: LogWriter.Written) {
            var s = staged[k]
            let frames = UnsafeMutableRawBufferPointer(rebasing: scratch[..<s.frameBytes])
            guard try s.file.fd.read(into: frames, at: s.framesOffset) == s.frameBytes else {
                throw SystemError("read", path: s.file.fd.path, errno: EIO)
            }
            let (chain, commit) = LogWriter.commit(frames: UnsafeRawBufferPointer(frames), positions: s.positions,
                                                   lastTimestampMicros: s.written.lastTimestampMicros, previousChain: previousChain)
            s.written.chain = chain
            s.written.indexEntries = LogWriter.indexEntries(frames: UnsafeRawBufferPointer(frames), count: s.positions.count,
                                                            framesOffset: s.framesOffset)
            return (commit, s.written)
        }
        precondition(staged.first.map { $0.positions.lowerBound == writer.head.position + 1 } ?? true, "the log moved under its staged batches")
        var next = staged.isEmpty ? nil : try wrappingIO(staged[0]) { try complete(0, previousChain: writer.head.chain) }
        for (k, s) in staged.enumerated() {
            let (commit, written) = next!
            if let path = s.file.stagingPath {
                try writer.adoptStagedSegment(s.file.segment, stagedPath: path)
                s.file.stagingPath = nil
            }
            do {
                try s.file.fd.writeAll(commit, at: s.commitOffset)
                syncer.request(s.file.fd, through: k + 1)
                // The next batch's commit record is made while this one is made durable.
                next = k + 1 < staged.count ? try complete(k + 1, previousChain: written.chain) : nil
                _ = try syncer.synced(atLeast: k + 1)
                // A batch that begins its segment file: the file's directory entry made durable too.
                if s.written.created { try FileSystem.syncDirectory(writer.log.directory) }
            } catch let error as SystemError {
                writer.failWrite(written)
                throw StorageError.io(error)
            }
            writer.acknowledge(written)
            try committed(s.positions)
        }
    }

    /// `body`, a failure of which is a failed write of `s` (nothing of it acknowledged).
    private func wrappingIO<T>(_ s: Staged, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as SystemError {
            writer.failWrite(s.written)
            throw StorageError.io(error)
        }
    }

    /// Cuts every batch staged and not committed: each segment back to its committed end, each
    /// file still under its staging name removed. The log is then as it was before they were staged.
    public func discard() {
        guard !finished else { return }
        finished = true
        for file in files {
            if let path = file.stagingPath {
                try? FileSystem.remove(path)
            } else if file.end > file.segment.committedBytes {
                try? file.fd.truncate(to: file.segment.committedBytes)
            }
            file.fd.close()
        }
        files = []
        staged = []
    }

    /// Leaves everything as it is, as a process killed now would (for the tests).
    func abandon() {
        finished = true
        for file in files { file.fd.close() }
    }
}
