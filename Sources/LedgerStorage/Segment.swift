// Encoding and checking of the three fixed shapes in a segment directory: the
// segment header, one record frame, one index entry. Pure functions over bytes.

/// A record as read from the log. `payload` is valid only inside the visitor it is passed to.
public struct StoredRecord {
    public let position: UInt64
    public let timestampMicros: Int64
    public let type: UInt16
    public let schemaVersion: UInt16
    public let payload: UnsafeRawBufferPointer

    @inlinable
    init(frame p: UnsafeRawPointer, frameBytes: Int) {
        position = Frame.position(p)
        timestampMicros = Frame.timestamp(p)
        type = Frame.type(p)
        schemaVersion = Frame.schemaVersion(p)
        let header = RecordFormat.frameHeaderBytes + RecordFormat.bodyHeaderBytes
        payload = UnsafeRawBufferPointer(start: p + header, count: frameBytes - header)
    }
}

/// The records of one committed batch (or of the part of it a reader asked for), every frame
/// already checked: length, CRC, dense positions, timestamps, and the batch's commit record.
/// The frames lie back to back in the reader's buffer and are valid only inside the visit that
/// hands them out. A reader that wants the next records early (to prefetch what they touch)
/// runs a second iterator ahead of the first.
public struct RecordBatch: Sequence {
    /// The frames, back to back (the commit record is not among them).
    public let frames: UnsafeRawBufferPointer
    /// File offset of the first frame in its segment.
    public let fileOffset: Int
    public let firstPosition: UInt64
    public let count: Int

    public var lastPosition: UInt64 { firstPosition + UInt64(count) - 1 }

    public struct Iterator: IteratorProtocol {
        @usableFromInline var p: UnsafeRawPointer
        @usableFromInline let end: UnsafeRawPointer

        @inlinable init(_ frames: UnsafeRawBufferPointer) {
            p = frames.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
            end = p + frames.count
        }

        @inlinable @inline(__always)
        public mutating func next() -> StoredRecord? {
            guard p < end else { return nil }
            let frameBytes = RecordFormat.frameHeaderBytes + Int(LE.u32(p, 0))
            defer { p += frameBytes }
            return StoredRecord(frame: p, frameBytes: frameBytes)
        }
    }

    @inlinable public func makeIterator() -> Iterator { Iterator(frames) }

    /// Calls `body` with each record, and `prefetch` with each `Limits.prefetchRecords` records
    /// before `body` sees it, so that a visitor whose work misses the cache can start loading
    /// what it will touch. Inlined into the caller, closures and all.
    @inlinable
    public func forEach(prefetching prefetch: (StoredRecord) -> Void, _ body: (StoredRecord) throws -> Void) rethrows {
        var ahead = makeIterator()
        for _ in 0..<Limits.prefetchRecords { if let record = ahead.next() { prefetch(record) } }
        for record in self {
            if let record = ahead.next() { prefetch(record) }
            try body(record)
        }
    }

    /// Calls `body` with each record, its file offset and its frame's size in bytes.
    func forEachFrame(_ body: (StoredRecord, _ offset: Int, _ frameBytes: Int) throws -> Bool) rethrows -> Bool {
        var q = 0
        while q < frames.count {
            let frameBytes = RecordFormat.frameHeaderBytes + Int(LE.u32(frames.baseAddress! + q, 0))
            if try !body(StoredRecord(frame: frames.baseAddress! + q, frameBytes: frameBytes), fileOffset + q, frameBytes) { return false }
            q += frameBytes
        }
        return true
    }

    /// The records from position `first` through `last` (nil when none): walks the frames
    /// before and after them, which only a reader starting or stopping inside a batch pays.
    func trimmed(from first: UInt64, through last: UInt64) -> RecordBatch? {
        let from = Swift.max(first, firstPosition), through = Swift.min(last, lastPosition)
        guard count > 0, from <= through else { return nil }
        if from == firstPosition && through == lastPosition { return self }
        var start = 0, end = 0, position = firstPosition
        while position <= through {
            let frameBytes = RecordFormat.frameHeaderBytes + Int(LE.u32(frames.baseAddress! + end, 0))
            if position < from { start += frameBytes }
            end += frameBytes
            position += 1
        }
        return RecordBatch(frames: UnsafeRawBufferPointer(rebasing: frames[start..<end]), fileOffset: fileOffset + start,
                           firstPosition: from, count: Int(through - from) + 1)
    }
}

enum SegmentHeader {
    static func encode(base: UInt64) -> [UInt8] {
        var out = RecordFormat.segmentMagic
        out.appendLE(RecordFormat.segmentFormatVersion)
        out.appendLE(UInt32(0))
        out.appendLE(base)
        out.appendLE(UInt32(0))
        out.appendLE(CRC32C.checksum(out))
        return out
    }

    /// nil when the header is sound, else why it is not.
    static func problem(_ bytes: [UInt8], segment: String, expectedBase: UInt64) -> StorageError? {
        guard bytes.count == RecordFormat.segmentHeaderBytes else {
            return .corruptSegmentHeader(segment: segment, reason: "header is \(bytes.count) of \(RecordFormat.segmentHeaderBytes) bytes")
        }
        return bytes.withUnsafeBytes { raw -> StorageError? in
            let p = raw.baseAddress!
            guard Array(bytes[0..<8]) == RecordFormat.segmentMagic else {
                return .corruptSegmentHeader(segment: segment, reason: "bad magic")
            }
            let crc = LE.u32(p, 28)
            guard crc == CRC32C.checksum(UnsafeRawBufferPointer(start: p, count: 28)) else {
                return .corruptSegmentHeader(segment: segment, reason: "header CRC mismatch")
            }
            let version = LE.u32(p, 8)
            guard version <= RecordFormat.segmentFormatVersion, version >= 1 else {
                return .formatTooNew(segment: segment, found: version, newestKnown: RecordFormat.segmentFormatVersion)
            }
            let base = LE.u64(p, 16)
            guard base == expectedBase else {
                return .corruptSegmentHeader(segment: segment, reason: "header says base position \(base), name says \(expectedBase)")
            }
            return nil
        }
    }
}

enum FrameCheck: Equatable {
    /// A complete frame whose CRC matches; `frameBytes` includes the 8-byte frame header.
    case valid(frameBytes: Int)
    /// Fewer bytes than the frame needs: at end of file this is a torn write.
    case incomplete
    case invalid(FrameDefect)
}

/// What is wrong with a frame: plain values (no String), so that checking a frame, which
/// every record read does, copies and destroys nothing; the words are made when reported.
enum FrameDefect: Equatable, CustomStringConvertible {
    case zeroFilled
    case bodyTooShort(Int)
    case bodyTooLong(Int)
    case crcMismatch

    var description: String {
        switch self {
        case .zeroFilled: return "zero-filled bytes where a record should start"
        case .bodyTooShort(let n): return "body length \(n) is below the minimum \(RecordFormat.bodyHeaderBytes)"
        case .bodyTooLong(let n): return "body length \(n) exceeds the limit \(Limits.recordBodyBytesMax)"
        case .crcMismatch: return "CRC mismatch"
        }
    }
}

@usableFromInline
enum Frame {
    @inline(__always)
    static func check(_ p: UnsafeRawPointer, available: Int) -> FrameCheck {
        if available < RecordFormat.frameHeaderBytes { return .incomplete }
        let bodyBytes = Int(LE.u32(p, 0))
        if bodyBytes == 0 && LE.u32(p, 4) == 0 { return .invalid(.zeroFilled) }
        if bodyBytes < RecordFormat.bodyHeaderBytes { return .invalid(.bodyTooShort(bodyBytes)) }
        if bodyBytes > Limits.recordBodyBytesMax { return .invalid(.bodyTooLong(bodyBytes)) }
        if available < RecordFormat.frameHeaderBytes + bodyBytes { return .incomplete }
        let body = UnsafeRawBufferPointer(start: p + RecordFormat.frameHeaderBytes, count: bodyBytes)
        if CRC32C.checksum(body) != LE.u32(p, 4) { return .invalid(.crcMismatch) }
        return .valid(frameBytes: RecordFormat.frameHeaderBytes + bodyBytes)
    }

    @inlinable @inline(__always) static func position(_ p: UnsafeRawPointer) -> UInt64 { LE.u64(p, 8) }
    @inlinable @inline(__always) static func timestamp(_ p: UnsafeRawPointer) -> Int64 { LE.i64(p, 16) }
    @inlinable @inline(__always) static func type(_ p: UnsafeRawPointer) -> UInt16 { LE.u16(p, 24) }
    @inlinable @inline(__always) static func schemaVersion(_ p: UnsafeRawPointer) -> UInt16 { LE.u16(p, 26) }

    /// Appends a complete frame (header, body header, payload) to `out`. Hot on import: the
    /// frame is made whole in a scratch buffer (on the stack for an ordinary record), its CRC
    /// taken in one pass, and appended at once (two appends and two CRC calls a record before).
    static func append(to out: inout [UInt8], position: UInt64, timestampMicros: Int64, type: UInt16,
                       schemaVersion: UInt16, payload: UnsafeRawBufferPointer) {
        let bodyBytes = RecordFormat.bodyHeaderBytes + payload.count
        let frameBytes = RecordFormat.frameHeaderBytes + bodyBytes
        withUnsafeTemporaryAllocation(byteCount: frameBytes, alignment: 8) { frame in
            let p = frame.baseAddress!
            LE.store(UInt32(bodyBytes), p, 0)
            LE.store(position, p, 8)
            LE.store(timestampMicros, p, 16)
            LE.store(type, p, 24)
            LE.store(schemaVersion, p, 26)
            if let source = payload.baseAddress {
                (p + RecordFormat.frameHeaderBytes + RecordFormat.bodyHeaderBytes).copyMemory(from: source, byteCount: payload.count)
            }
            LE.store(CRC32C.checksum(UnsafeRawBufferPointer(start: p + RecordFormat.frameHeaderBytes, count: bodyBytes)), p, 4)
            out.append(contentsOf: UnsafeRawBufferPointer(frame))
        }
    }

    /// Reads the commit payload of a valid commit frame.
    static func commit(_ p: UnsafeRawPointer) -> (count: UInt32, chain: [UInt8]) {
        let payload = p + RecordFormat.frameHeaderBytes + RecordFormat.bodyHeaderBytes
        let count = LE.u32(payload, 0)
        let chain = Array(UnsafeRawBufferPointer(start: payload + 8, count: SHA256.digestBytes))
        return (count, chain)
    }

    static func isCommit(_ p: UnsafeRawPointer, frameBytes: Int) -> Bool {
        type(p) == RecordFormat.commitType && frameBytes == RecordFormat.commitFrameBytes
            && schemaVersion(p) == RecordFormat.commitSchemaVersion
    }
}

/// position → (offset, timestamp) for one record; 32 bytes on disk.
public struct IndexEntry: Equatable {
    public var position: UInt64
    public var timestampMicros: Int64
    public var offset: UInt64
    public var frameBytes: UInt32

    func append(to out: inout [UInt8]) {
        var raw: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &raw) { e in
            store(to: e.baseAddress!)
            out.append(contentsOf: UnsafeRawBufferPointer(e))
        }
    }

    /// Its 32 bytes, CRC included, at `p`.
    @inline(__always)
    func store(to p: UnsafeMutableRawPointer) {
        LE.store(position, p, 0)
        LE.store(timestampMicros, p, 8)
        LE.store(offset, p, 16)
        LE.store(frameBytes, p, 24)
        LE.store(CRC32C.checksum(UnsafeRawBufferPointer(start: p, count: 28)), p, 28)
    }

    /// nil when the entry's own CRC does not match.
    static func decode(_ p: UnsafeRawPointer) -> IndexEntry? {
        guard LE.u32(p, 28) == CRC32C.checksum(UnsafeRawBufferPointer(start: p, count: 28)) else { return nil }
        return IndexEntry(position: LE.u64(p, 0), timestampMicros: LE.i64(p, 8), offset: LE.u64(p, 16), frameBytes: LE.u32(p, 24))
    }
}
