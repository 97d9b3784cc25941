// The only code that appends to the log. Commit rule: a batch is its data
// records followed by one commit record (count + chain hash), written with one
// pwritev and made durable with one fdatasync; it exists iff its commit record
// is complete and agrees with it. Index entries are written only after that
// fdatasync, so an index entry always points at a durable record.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Records to append together; frames are built (and CRC'd) as they are added.
public struct Batch {
    public private(set) var firstPosition: UInt64
    public private(set) var count = 0
    public private(set) var lastTimestampMicros: Int64
    var frames: [UInt8] = []

    init(firstPosition: UInt64, lastTimestampMicros: Int64) {
        self.firstPosition = firstPosition
        self.lastTimestampMicros = lastTimestampMicros
    }

    /// Empties the batch for the records that follow it, keeping its memory: for imports that
    /// stage a batch (StagedAppend) and go on with the next.
    public mutating func startNext() {
        firstPosition = nextPosition
        count = 0
        frames.removeAll(keepingCapacity: true)
    }

    public var isEmpty: Bool { count == 0 }
    public var byteCount: Int { frames.count }
    /// The position the next appended record will get.
    public var nextPosition: UInt64 { firstPosition + UInt64(count) }

    public mutating func append(timestampMicros: Int64, type: UInt16, schemaVersion: UInt16,
                                payload: UnsafeRawBufferPointer) throws {
        let bodyBytes = RecordFormat.bodyHeaderBytes + payload.count
        guard bodyBytes <= Limits.recordBodyBytesMax else { throw StorageError.recordTooLarge(bytes: bodyBytes, max: Limits.recordBodyBytesMax) }
        guard type < RecordFormat.reservedTypeFirst else { throw StorageError.invalidRecordType(type) }
        guard timestampMicros >= lastTimestampMicros else {
            throw StorageError.timestampBeforeLast(timestampMicros: timestampMicros, lastMicros: lastTimestampMicros)
        }
        guard count < Limits.batchRecordsMax, frames.count + 8 + bodyBytes <= Limits.batchBytesMax else {
            throw StorageError.batchTooLarge(records: count + 1, bytes: frames.count + 8 + bodyBytes)
        }
        Frame.append(to: &frames, position: nextPosition, timestampMicros: timestampMicros, type: type,
                     schemaVersion: schemaVersion, payload: payload)
        count += 1
        lastTimestampMicros = timestampMicros
    }

    /// The record this batch holds at `position` (type, schema version, payload), or nil.
    public func record(at position: UInt64) -> (type: UInt16, schemaVersion: UInt16, payload: [UInt8])? {
        guard position >= firstPosition, position < nextPosition else { return nil }
        return frames.withUnsafeBytes { Self.record(at: position, in: $0) }
    }

    /// The record at `position` among well-formed `frames` (type, schema version, payload), or nil.
    static func record(at position: UInt64, in raw: UnsafeRawBufferPointer) -> (type: UInt16, schemaVersion: UInt16, payload: [UInt8])? {
        var offset = 0
        while offset + RecordFormat.frameHeaderBytes <= raw.count {
            let p = raw.baseAddress! + offset
            let frameBytes = RecordFormat.frameHeaderBytes + Int(LE.u32(p, 0))
            if Frame.position(p) == position {
                let header = RecordFormat.frameHeaderBytes + RecordFormat.bodyHeaderBytes
                return (Frame.type(p), Frame.schemaVersion(p), Array(UnsafeRawBufferPointer(start: p + header, count: frameBytes - header)))
            }
            offset += frameBytes
        }
        return nil
    }

    public mutating func append(timestampMicros: Int64, type: UInt16, schemaVersion: UInt16, payload: [UInt8]) throws {
        try payload.withUnsafeBytes { try append(timestampMicros: timestampMicros, type: type, schemaVersion: schemaVersion, payload: $0) }
    }
}

public final class LogWriter {
    public let log: Log
    public let segmentBytes: Int
    private var segmentFD: FileDescriptor?
    /// Set when a write or sync failed: the file state is unknown until the log is reopened.
    private(set) var failed = false

    /// Opens the log for appending, repairing a torn tail and stale indexes.
    /// The caller must hold the store's writer lock for the writer's whole life.
    /// `sealedSegmentsOnUse`: check (and repair) a sealed segment when it is first read, as a
    /// reader does, instead of all on open; appends only touch the last one, so a command's
    /// cost does not grow with the number of segments.
    public init(directory: String, segmentBytes: Int, holding lock: StoreLock, sealedSegmentsOnUse: Bool = false) throws {
        precondition(segmentBytes >= Limits.segmentBytesMin && segmentBytes <= Limits.segmentBytesMax)
        _ = lock
        self.segmentBytes = segmentBytes
        try StorageError.wrapping { try FileSystem.makeDirectory(directory) }
        log = Log(directory: directory, repair: true, lockHeld: true, checksSealedOnUse: sealedSegmentsOnUse)
        try LogOpener(log: log).run()
    }

    deinit { segmentFD?.close() }

    public var head: LogHead { log.head }

    public func makeBatch() -> Batch {
        Batch(firstPosition: log.head.position + 1, lastTimestampMicros: log.head.timestampMicros)
    }

    /// Appends `batch` durably; returns the positions it was given.
    @discardableResult
    public func append(_ batch: Batch) throws -> ClosedRange<UInt64> {
        let written = try write(batch)
        do {
            try written.fd.syncData()
            if written.created { try FileSystem.syncDirectory(log.directory) }
        } catch let error as SystemError {
            failWrite(written)
            throw StorageError.io(error)
        }
        acknowledge(written)
        return written.positions
    }

    /// A batch written to its segment (by `write`, or staged and committed by StagedAppend) and
    /// not yet known to be durable: what `acknowledge` needs once an fdatasync begun after the
    /// write of its commit record has returned.
    struct Written {
        let segment: Segment
        let fd: FileDescriptor
        /// The batch began the segment (its directory entry must be made durable too).
        let created: Bool
        let writeOffset: Int
        let endOffset: Int
        let positions: ClosedRange<UInt64>
        let lastTimestampMicros: Int64
        var chain: [UInt8]
        /// The batch's index entries, written once it is durable.
        var indexEntries: [UInt8]
    }

    /// The roll-over rule (FORMAT.md): a segment takes the next batch while it holds fewer than
    /// segment_bytes bytes, or no record at all.
    func segmentTakesNextBatch(bytes: Int, records: UInt64) -> Bool {
        bytes < segmentBytes || records == 0
    }

    /// Whether the next batch begins a segment (the log's first, a roll-over, or a segment file
    /// left with no header): its directory entry must then be made durable with it.
    var nextBatchBeginsSegment: Bool {
        guard let last = log.segments.last else { return true }
        guard segmentTakesNextBatch(bytes: last.committedBytes, records: last.recordCount) else { return true }
        return last.committedBytes < RecordFormat.segmentHeaderBytes
    }

    /// Writes `batch` after the head, with its commit record, in one pwritev; nothing is synced.
    func write(_ batch: Batch) throws -> Written {
        precondition(!failed, "append after a failed write; reopen the log")
        precondition(batch.firstPosition == log.head.position + 1, "batch was made for another head")
        precondition(!batch.isEmpty, "empty batch")
        let lastPosition = batch.nextPosition - 1
        let (chain, commit) = Self.commit(batch, previousChain: log.head.chain)
        // Everything is built before a new segment file is made: a crash between its creation and
        // the write leaves an empty file (the next writer repairs it), so that window stays short.
        let begins = nextBatchBeginsSegment
        let framesOffset = begins ? RecordFormat.segmentHeaderBytes : log.segments.last!.committedBytes
        let indexEntries = Self.indexEntries(batch, framesOffset: framesOffset)
        let (segment, fd, created) = try segmentForAppend(firstPosition: batch.firstPosition)
        precondition(created == begins, "nextBatchBeginsSegment and segmentForAppend disagree")
        let header: [UInt8] = created ? SegmentHeader.encode(base: segment.base) : []
        let writeOffset = created ? 0 : framesOffset
        let byteCount = header.count + batch.frames.count + commit.count
        let written = Written(segment: segment, fd: fd, created: created, writeOffset: writeOffset, endOffset: writeOffset + byteCount,
                              positions: batch.firstPosition...lastPosition, lastTimestampMicros: batch.lastTimestampMicros,
                              chain: chain, indexEntries: indexEntries)
        do {
            // One write of the header (a new segment), the frames and the commit frame, gathered.
            try header.withUnsafeBytes { h in
                try batch.frames.withUnsafeBytes { f in
                    try commit.withUnsafeBytes { c in try fd.writeAll([h, f, c], at: writeOffset) }
                }
            }
        } catch let error as SystemError {
            failWrite(written)
            throw StorageError.io(error)
        }
        return written
    }

    /// The chain value after `batch` and its commit frame (FORMAT.md: SHA-256 of the previous
    /// chain value and the batch's frames as stored; the count; the batch's last position and time).
    static func commit(_ batch: Batch, previousChain: [UInt8]) -> (chain: [UInt8], frame: [UInt8]) {
        batch.frames.withUnsafeBytes {
            commit(frames: $0, positions: batch.firstPosition...(batch.nextPosition - 1), lastTimestampMicros: batch.lastTimestampMicros,
                   previousChain: previousChain)
        }
    }

    /// The chain value and commit frame of the batch whose data frames (as on disk) are `frames`.
    static func commit(frames: UnsafeRawBufferPointer, positions: ClosedRange<UInt64>, lastTimestampMicros: Int64,
                       previousChain: [UInt8]) -> (chain: [UInt8], frame: [UInt8]) {
        var sha = SHA256()
        sha.update(previousChain)
        sha.update(frames)
        let chain = sha.finalize()
        var payload: [UInt8] = []
        payload.appendLE(UInt32(positions.count))
        payload.appendLE(UInt32(0))
        payload.append(contentsOf: chain)
        var frame: [UInt8] = []
        payload.withUnsafeBytes {
            Frame.append(to: &frame, position: positions.upperBound, timestampMicros: lastTimestampMicros,
                         type: RecordFormat.commitType, schemaVersion: RecordFormat.commitSchemaVersion, payload: $0)
        }
        return (chain, frame)
    }

    /// After a failed write or sync: the file state is unknown until the log is reopened. Best
    /// effort: cut what follows the last acknowledged batch, leaving no unacknowledged batch
    /// behind for the next opener to find.
    func failWrite(_ written: Written) {
        failed = true
        try? written.fd.truncate(to: written.created ? 0 : written.segment.committedBytes)
    }

    /// Records `written` as durable (an fdatasync begun after its write has returned): the
    /// log's head moves to it and its index entries are written. Batches are acknowledged in
    /// order.
    func acknowledge(_ written: Written) {
        precondition(written.positions.lowerBound == log.head.position + 1, "batches acknowledged out of order")
        let segment = written.segment
        segment.committedBytes = written.endOffset
        segment.lastPosition = written.positions.upperBound
        log.head = LogHead(position: written.positions.upperBound, timestampMicros: written.lastTimestampMicros, chain: written.chain)
        appendIndexEntries(segment, written.indexEntries, count: written.positions.count)
    }

    /// Puts a segment written under another name (StagedAppend) in place as the log's last
    /// segment, with an empty index. Every batch before it must be acknowledged; its own are
    /// acknowledged as their commit records are made durable.
    func adoptStagedSegment(_ segment: Segment, stagedPath: String) throws {
        precondition(segment.base == log.head.position + 1, "a segment begins only once every batch before it is durable")
        segmentFD?.close()
        segmentFD = nil
        try StorageError.wrapping {
            try FileSystem.rename(stagedPath, segment.path)
            try FileDescriptor.open(segment.indexPath, O_WRONLY | O_CREAT | O_TRUNC).close()
        }
        segment.committedBytes = 0
        log.segments.append(segment)
    }

    /// The segment the next batch goes to, rolling over (or creating the first) when needed.
    private func segmentForAppend(firstPosition: UInt64) throws -> (Segment, FileDescriptor, Bool) {
        if let last = log.segments.last, segmentTakesNextBatch(bytes: last.committedBytes, records: last.recordCount) {
            if segmentFD == nil {
                segmentFD = try StorageError.wrapping { try FileDescriptor.open(last.path, O_RDWR) }
            }
            return (last, segmentFD!, last.committedBytes < RecordFormat.segmentHeaderBytes)
        }
        segmentFD?.close()
        segmentFD = nil
        let segment = Segment(base: firstPosition, directory: log.directory)
        let fd = try StorageError.wrapping {
            let fd = try FileDescriptor.open(segment.path, O_RDWR | O_CREAT | O_EXCL)
            try FileDescriptor.open(segment.indexPath, O_WRONLY | O_CREAT | O_TRUNC).close()
            return fd
        }
        segmentFD = fd
        segment.committedBytes = 0
        log.segments.append(segment)
        return (segment, fd, true)
    }

    /// The index entries of `batch`, its frames starting at `framesOffset` in the segment.
    /// Written in place, an entry at a time (an append each was ≈ 100 instructions a record).
    private static func indexEntries(_ batch: Batch, framesOffset: Int) -> [UInt8] {
        batch.frames.withUnsafeBytes { indexEntries(frames: $0, count: batch.count, framesOffset: framesOffset) }
    }

    /// The index entries of `count` well-formed frames, `raw`, that start at `framesOffset` in their segment.
    static func indexEntries(frames raw: UnsafeRawBufferPointer, count: Int, framesOffset: Int) -> [UInt8] {
        let byteCount = count * RecordFormat.indexEntryBytes
        return [UInt8](unsafeUninitializedCapacity: byteCount) { out, initialized in
            var q = 0, e = 0
            while q < raw.count {
                let p = raw.baseAddress! + q
                let frameBytes = RecordFormat.frameHeaderBytes + Int(LE.u32(p, 0))
                precondition(e < byteCount, "a batch holds more frames than its count")
                IndexEntry(position: Frame.position(p), timestampMicros: Frame.timestamp(p),
                           offset: UInt64(framesOffset + q), frameBytes: UInt32(frameBytes)).store(to: out.baseAddress! + e)
                e += RecordFormat.indexEntryBytes
                q += frameBytes
            }
            precondition(e == byteCount, "a batch holds fewer frames than its count")
            initialized = byteCount
        }
    }

    /// Index entries after the batch is durable. A failure here loses nothing: the index is
    /// derived and the next opener rebuilds what is missing.
    private func appendIndexEntries(_ segment: Segment, _ entries: [UInt8], count: Int) {
        let offset = segment.indexEntriesOnDisk * RecordFormat.indexEntryBytes
        do {
            let fd = try FileDescriptor.open(segment.indexPath, O_WRONLY | O_CREAT)
            defer { fd.close() }
            try fd.writeAll(entries, at: offset)
            segment.indexEntriesOnDisk += count
        } catch {
            log.notes.append(.indexRebuilt(segment: segment.name, reason: "index write failed (\(error)); it will be rebuilt"))
        }
    }
}
