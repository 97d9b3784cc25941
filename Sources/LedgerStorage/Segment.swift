// Encoding and checking of the three fixed shapes in a segment directory: the
// segment header, one record frame, one index entry. Pure functions over bytes.

/// A record as read from the log. `payload` is valid only inside the visitor it is passed to.
public struct StoredRecord {
    public let position: UInt64
    public let timestampMicros: Int64
    public let type: UInt16
    public let schemaVersion: UInt16
    public let payload: UnsafeRawBufferPointer
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
    case invalid(String)
}

enum Frame {
    @inline(__always)
    static func check(_ p: UnsafeRawPointer, available: Int) -> FrameCheck {
        if available < RecordFormat.frameHeaderBytes { return .incomplete }
        let bodyBytes = Int(LE.u32(p, 0))
        if bodyBytes == 0 && LE.u32(p, 4) == 0 { return .invalid("zero-filled bytes where a record should start") }
        if bodyBytes < RecordFormat.bodyHeaderBytes { return .invalid("body length \(bodyBytes) is below the minimum \(RecordFormat.bodyHeaderBytes)") }
        if bodyBytes > Limits.recordBodyBytesMax { return .invalid("body length \(bodyBytes) exceeds the limit \(Limits.recordBodyBytesMax)") }
        if available < RecordFormat.frameHeaderBytes + bodyBytes { return .incomplete }
        let body = UnsafeRawBufferPointer(start: p + RecordFormat.frameHeaderBytes, count: bodyBytes)
        if CRC32C.checksum(body) != LE.u32(p, 4) { return .invalid("CRC mismatch") }
        return .valid(frameBytes: RecordFormat.frameHeaderBytes + bodyBytes)
    }

    @inline(__always) static func position(_ p: UnsafeRawPointer) -> UInt64 { LE.u64(p, 8) }
    @inline(__always) static func timestamp(_ p: UnsafeRawPointer) -> Int64 { LE.i64(p, 16) }
    @inline(__always) static func type(_ p: UnsafeRawPointer) -> UInt16 { LE.u16(p, 24) }
    @inline(__always) static func schemaVersion(_ p: UnsafeRawPointer) -> UInt16 { LE.u16(p, 26) }

    static func record(_ p: UnsafeRawPointer, frameBytes: Int) -> StoredRecord {
        let header = RecordFormat.frameHeaderBytes + RecordFormat.bodyHeaderBytes
        return StoredRecord(
            position: position(p), timestampMicros: timestamp(p), type: type(p), schemaVersion: schemaVersion(p),
            payload: UnsafeRawBufferPointer(start: p + header, count: frameBytes - header))
    }

    /// Appends a complete frame (header, body header, payload) to `out`. Hot on import: the
    /// 28 header bytes are built on the stack and appended once; the CRC is patched in place.
    static func append(to out: inout [UInt8], position: UInt64, timestampMicros: Int64, type: UInt16,
                       schemaVersion: UInt16, payload: UnsafeRawBufferPointer) {
        let bodyBytes = RecordFormat.bodyHeaderBytes + payload.count
        var header: (UInt64, UInt64, UInt64, UInt32) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &header) { h in
            let p = h.baseAddress!
            LE.store(UInt32(bodyBytes), p, 0)
            LE.store(position, p, 8)
            LE.store(timestampMicros, p, 16)
            LE.store(type, p, 24)
            LE.store(schemaVersion, p, 26)
            var crc = CRC32C.update(0xFFFF_FFFF, UnsafeRawBufferPointer(start: p + 8, count: RecordFormat.bodyHeaderBytes))
            crc = ~CRC32C.update(crc, payload)
            LE.store(crc, p, 4)
            out.append(contentsOf: UnsafeRawBufferPointer(start: p, count: RecordFormat.frameHeaderBytes + RecordFormat.bodyHeaderBytes))
        }
        out.append(contentsOf: payload)
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
            let p = e.baseAddress!
            LE.store(position, p, 0)
            LE.store(timestampMicros, p, 8)
            LE.store(offset, p, 16)
            LE.store(frameBytes, p, 24)
            LE.store(CRC32C.checksum(UnsafeRawBufferPointer(start: p, count: 28)), p, 28)
            out.append(contentsOf: UnsafeRawBufferPointer(e))
        }
    }

    /// nil when the entry's own CRC does not match.
    static func decode(_ p: UnsafeRawPointer) -> IndexEntry? {
        guard LE.u32(p, 28) == CRC32C.checksum(UnsafeRawBufferPointer(start: p, count: 28)) else { return nil }
        return IndexEntry(position: LE.u64(p, 0), timestampMicros: LE.i64(p, 8), offset: LE.u64(p, 16), frameBytes: LE.u32(p, 24))
    }
}
