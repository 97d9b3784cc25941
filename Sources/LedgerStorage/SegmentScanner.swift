import CLedgerAccel

// Forward scan of one segment in large chunks: checks every frame (length, CRC,
// dense positions, monotonic timestamps) and hands out a batch's records only
// once its commit record has been seen and checked. It never decides whether a
// bad batch is a torn tail or corruption; the caller knows where it is.

/// Where a scan stands between batches; updated only when a batch commits.
struct ScanState {
    var nextPosition: UInt64
    var lastTimestampMicros: Int64
    /// The chain value after the last committed batch, when known.
    var chain: [UInt8]?
    /// Verify each batch's chain hash (needs `chain` to be known).
    var verifyChain: Bool
    /// File offset just past the last committed batch.
    var committedEnd: Int
    var batchesCommitted = 0
}

enum ScanStop: Equatable {
    /// Reached the end exactly at a batch boundary.
    case cleanEnd
    /// The visitor asked to stop.
    case stopped
    /// The batch starting at byte `batchOffset` is incomplete or damaged; `offset` and
    /// `position` locate the first bad record (or the batch, when the batch as a whole is wrong).
    case damaged(batchOffset: Int, offset: Int, position: UInt64, reason: String)
}

final class SegmentScanner {
    let fd: FileDescriptor
    let name: String
    /// Bytes of the file the scan may look at (a reader passes its committed end).
    let endOffset: Int
    /// Read into (and owned), or the bytes of `region`.
    private var buffer: UnsafeMutableRawBufferPointer
    /// Mapped: the window of the file the scan is in, which the batches it hands out point
    /// into (a visitor keeps it to use them later).
    private(set) var region: MappedRegion?
    /// Bytes mapped at a time (at least; a larger batch gets a larger window), or nil to read.
    private let mapWindowBytes: Int?
    private var mapped: Bool { mapWindowBytes != nil }

    /// Runs of plain records checked in C (`ledger_scan_records`, the CRCs inlined), the rest
    /// here; false checks every frame here (the tests compare the two).
    private let runsInC: Bool

    init(fd: FileDescriptor, name: String, endOffset: Int, mapWindowBytes: Int? = nil, runsInC: Bool = true) {
        self.fd = fd
        self.name = name
        self.endOffset = endOffset
        self.mapWindowBytes = mapWindowBytes
        self.runsInC = runsInC && CRC32C.hardwareAvailable
        buffer = mapWindowBytes != nil ? UnsafeMutableRawBufferPointer(start: nil, count: 0)
            : .allocate(byteCount: min(Limits.readChunkBytes, max(4096, endOffset)), alignment: 16)
    }

    deinit { if !mapped { buffer.deallocate() } }

    /// Scans batches from `offset`. With `partialFirstBatch` the scan starts in the middle
    /// of a batch (seeking by index): that batch's count may exceed what was seen and its
    /// chain hash is adopted rather than checked.
    func scan(from offset: Int, state: inout ScanState, partialFirstBatch: Bool = false,
              visit: (StoredRecord, _ offset: Int, _ frameBytes: Int) throws -> Bool,
              batchDone: ((_ lastPosition: UInt64, _ chain: [UInt8]) -> Void)? = nil) throws -> ScanStop {
        try scanBatches(from: offset, state: &state, partialFirstBatch: partialFirstBatch,
                        visit: { try $0.forEachFrame(visit) }, batchDone: batchDone)
    }

    /// `scan`, handing out each committed batch whole (the visitor returns false to stop after it).
    /// With `stopInBatch`, the scan stops once that position is read and handed out: a batch that
    /// goes on past it is handed out through it, before its commit record is read (for a reader
    /// of bytes known to be committed whose range ends there: the rest of the batch, and its
    /// commit, are another reader's).
    func scanBatches(from offset: Int, state: inout ScanState, partialFirstBatch: Bool = false, stopInBatch: UInt64 = .max,
                     visit: (RecordBatch) throws -> Bool,
                     batchDone: ((_ lastPosition: UInt64, _ chain: [UInt8]) -> Void)? = nil) throws -> ScanStop {
        var bufferOffset = offset   // file offset of buffer[0]
        var end = 0                 // valid bytes in buffer
        var batchStart = 0          // buffer index where the pending batch starts
        var cursor = 0
        var pending = 0
        var expected = state.nextPosition
        var lastTimestamp = state.lastTimestampMicros
        var partial = partialFirstBatch
        state.committedEnd = offset

        while true {
            guard let base = buffer.baseAddress else {
                // Mapped, before the first window: nothing scanned yet.
                if offset >= endOffset { return .cleanEnd }
                try refill(&bufferOffset, &end, &batchStart, &cursor)
                continue
            }
            /// The pending batch's records so far (at its commit: all of them).
            func pendingBatch() -> RecordBatch {
                RecordBatch(frames: UnsafeRawBufferPointer(start: base + batchStart, count: cursor - batchStart),
                            fileOffset: bufferOffset + batchStart, firstPosition: expected - UInt64(pending), count: pending)
            }
            if runsInC {
                // The plain records from here on, checked in one call; the frame that stopped the
                // run (a commit, a defect, one cut short) is read below, as every frame was.
                var next = expected, last = lastTimestamp
                let bytes = ledger_scan_records(base + cursor, end - cursor, &next, &last, stopInBatch,
                                                Limits.batchRecordsMax - pending, UInt32(RecordFormat.bodyHeaderBytes),
                                                UInt32(Limits.recordBodyBytesMax), RecordFormat.reservedTypeFirst)
                if bytes > 0 {
                    pending += Int(next - expected)
                    expected = next
                    lastTimestamp = last
                    cursor += bytes
                    if expected - 1 == stopInBatch {
                        _ = try visit(pendingBatch())
                        return .stopped
                    }
                }
            }
            let available = end - cursor
            switch Frame.check(base + cursor, available: available) {
            case .incomplete:
                if bufferOffset + end >= endOffset {
                    if available == 0 && pending == 0 { return .cleanEnd }
                    let reason = available == 0 ? "batch ends without a commit record" : "record cut short at end of file (offset \(bufferOffset + cursor))"
                    return .damaged(batchOffset: bufferOffset + batchStart, offset: bufferOffset + cursor, position: expected, reason: reason)
                }
                try refill(&bufferOffset, &end, &batchStart, &cursor)
                continue
            case .invalid(let defect):
                return .damaged(batchOffset: bufferOffset + batchStart, offset: bufferOffset + cursor, position: expected, reason: defect.description)
            case .valid(let frameBytes):
                let p = UnsafeRawPointer(base + cursor)
                if Frame.isCommit(p, frameBytes: frameBytes) {
                    let (count, chain) = Frame.commit(p)
                    let countOK = partial ? Int(count) >= pending : Int(count) == pending
                    guard pending > 0, countOK, Frame.position(p) == expected - 1 else {
                        return .damaged(batchOffset: bufferOffset + batchStart, offset: bufferOffset + cursor, position: expected,
                                        reason: "commit record does not match its batch (\(pending) records, commit says \(count))")
                    }
                    if state.verifyChain, !partial, let previous = state.chain {
                        var sha = SHA256()
                        sha.update(previous)
                        sha.update(UnsafeRawBufferPointer(start: base + batchStart, count: cursor - batchStart))
                        if sha.finalize() != chain {
                            let first = expected - UInt64(pending)
                            return .damaged(batchOffset: bufferOffset + batchStart, offset: bufferOffset + batchStart, position: first,
                                            reason: "hash chain mismatch: a record of positions \(first)-\(expected - 1) was altered (its CRC was recomputed)")
                        }
                    }
                    // Hand out the committed batch.
                    let stop = try !visit(pendingBatch())
                    cursor += frameBytes
                    batchStart = cursor
                    pending = 0
                    partial = false
                    state.nextPosition = expected
                    state.lastTimestampMicros = lastTimestamp
                    state.chain = chain
                    state.committedEnd = bufferOffset + cursor
                    state.batchesCommitted += 1
                    batchDone?(expected - 1, chain)
                    if stop { return .stopped }
                } else {
                    let type = Frame.type(p)
                    let position = Frame.position(p)
                    let timestamp = Frame.timestamp(p)
                    let at = bufferOffset + cursor
                    if type >= RecordFormat.reservedTypeFirst {
                        return .damaged(batchOffset: bufferOffset + batchStart, offset: at, position: expected, reason: "reserved record type \(type)")
                    }
                    if position != expected {
                        return .damaged(batchOffset: bufferOffset + batchStart, offset: at, position: expected, reason: "record says position \(position)")
                    }
                    if timestamp < lastTimestamp {
                        return .damaged(batchOffset: bufferOffset + batchStart, offset: at, position: expected, reason: "timestamp goes backwards")
                    }
                    if pending >= Limits.batchRecordsMax {
                        return .damaged(batchOffset: bufferOffset + batchStart, offset: at, position: expected, reason: "batch exceeds \(Limits.batchRecordsMax) records")
                    }
                    expected += 1
                    lastTimestamp = timestamp
                    pending += 1
                    cursor += frameBytes
                    if position == stopInBatch {
                        _ = try visit(pendingBatch())
                        return .stopped
                    }
                }
            }
        }
    }

    /// Moves the pending batch to the front of the buffer and reads more bytes behind it; or,
    /// mapped, maps the next window of the file from the pending batch on.
    private func refill(_ bufferOffset: inout Int, _ end: inout Int, _ batchStart: inout Int, _ cursor: inout Int) throws {
        let keep = end - batchStart
        if let mapWindowBytes {
            let start = bufferOffset + batchStart
            // A window at least twice what the pending batch has so far, so that a batch larger
            // than a window is mapped whole in a few steps.
            let count = min(max(mapWindowBytes, 2 * keep), endOffset - start)
            if try StorageError.wrapping({ try fd.size() }) < start + count {
                throw StorageError.corruptRecord(segment: name, offset: start + count, position: 0,
                                                 reason: "file is shorter than the \(endOffset) bytes it had when opened")
            }
            let next = try StorageError.wrapping { try MappedRegion(fd, offset: start, count: count) }
            region = next
            buffer = UnsafeMutableRawBufferPointer(mutating: next.bytes)
            bufferOffset = start
            cursor -= batchStart
            batchStart = 0
            end = count
            return
        }
        if batchStart > 0 {
            if keep > 0 { buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + batchStart, byteCount: keep) }
            bufferOffset += batchStart
            cursor -= batchStart
            end = keep
            batchStart = 0
        }
        if end == buffer.count {
            let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: buffer.count * 2, alignment: 16)
            grown.baseAddress!.copyMemory(from: buffer.baseAddress!, byteCount: end)
            buffer.deallocate()
            buffer = grown
        }
        let want = min(buffer.count - end, endOffset - (bufferOffset + end))
        let n = try StorageError.wrapping {
            try fd.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[end..<(end + want)]), at: bufferOffset + end)
        }
        if n == 0 {
            throw StorageError.corruptRecord(segment: name, offset: bufferOffset + end, position: 0,
                                             reason: "file is shorter than the \(endOffset) bytes it had when opened")
        }
        end += n
    }

    /// True when a well-formed commit record for a position ≥ `minPosition` lies after `offset`.
    /// A bad batch followed by a good commit is corruption, not a torn tail.
    func validCommitExists(after offset: Int, minPosition: UInt64) throws -> Bool {
        let frameBytes = RecordFormat.commitFrameBytes
        var start = offset + 1
        let chunk = Limits.readChunkBytes
        while start + frameBytes <= endOffset {
            let count = min(chunk + frameBytes, endOffset - start)
            let bytes = try StorageError.wrapping { try fd.read(count: count, at: start) }
            if bytes.count < frameBytes { return false }
            let found = bytes.withUnsafeBytes { raw -> Bool in
                let p = raw.baseAddress!
                var i = 0
                while i + frameBytes <= raw.count {
                    if LE.u32(p, i) == UInt32(RecordFormat.commitBodyBytes),
                       case .valid(let fb) = Frame.check(p + i, available: raw.count - i),
                       Frame.isCommit(p + i, frameBytes: fb), Frame.position(p + i) >= minPosition {
                        return true
                    }
                    i += 1
                }
                return false
            }
            if found { return true }
            start += chunk
        }
        return false
    }
}
