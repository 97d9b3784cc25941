// On-disk constants of the log, the ones docs/FORMAT.md cites. The writer and
// every reader share these; nothing else in the package hard-codes an offset.

public enum RecordFormat {
    /// Frame: [u32 bodyLength][u32 crc32c(body)][body], little-endian.
    /// (Computed, so that code inlined into other modules reads a constant, not a lazy global.)
    @inlinable public static var frameHeaderBytes: Int { 8 }
    /// Body header: u64 position, i64 timestampMicros, u16 type, u16 schemaVersion.
    @inlinable public static var bodyHeaderBytes: Int { 20 }
    /// Record types at or above this value belong to the storage layer.
    public static let reservedTypeFirst: UInt16 = 0xFF00
    /// The commit record closing every batch.
    public static let commitType: UInt16 = 0xFFFF
    public static let commitSchemaVersion: UInt16 = 1
    /// Commit payload: u32 recordCount, u32 reserved (0), 32-byte chain hash.
    public static let commitPayloadBytes = 40
    public static let commitBodyBytes = bodyHeaderBytes + commitPayloadBytes
    public static let commitFrameBytes = frameHeaderBytes + commitBodyBytes

    /// Segment header: "LEDGRSEG", u32 formatVersion, u32 reserved, u64 basePosition,
    /// u32 reserved, u32 crc32c(bytes 0..<28).
    public static let segmentMagic: [UInt8] = Array("LEDGRSEG".utf8)
    public static let segmentHeaderBytes = 32
    public static let segmentFormatVersion: UInt32 = 1
    public static let segmentSuffix = ".seg"

    /// Index entry: u64 position, i64 timestampMicros, u64 offset, u32 frameBytes,
    /// u32 crc32c(bytes 0..<28).
    public static let indexEntryBytes = 32
    public static let indexSuffix = ".idx"

    /// Segment and index names: the first position, zero-padded to 20 digits.
    public static let nameDigits = 20
    /// Positions start at 1; position 0 means "before the first record".
    public static let firstPosition: UInt64 = 1

    public static func segmentName(base: UInt64) -> String { paddedPosition(base) + segmentSuffix }

    public static func indexName(base: UInt64) -> String { paddedPosition(base) + indexSuffix }

    /// A position as the 20 zero-padded digits every derived file name starts with.
    public static func paddedPosition(_ position: UInt64) -> String {
        let digits = String(position)
        return String(repeating: "0", count: max(0, nameDigits - digits.count)) + digits
    }

    /// The base position encoded in a segment file name, or nil if the name is not a segment's.
    public static func basePosition(ofSegmentName name: String) -> UInt64? {
        guard name.hasSuffix(segmentSuffix) else { return nil }
        let stem = name.dropLast(segmentSuffix.count)
        guard stem.count == nameDigits, stem.allSatisfy({ $0 >= "0" && $0 <= "9" }) else { return nil }
        return UInt64(stem)
    }
}

/// Little-endian loads and stores on raw memory; the only byte-order code in the package.
public enum LE {
    @inlinable @inline(__always)
    public static func u16(_ p: UnsafeRawPointer, _ offset: Int) -> UInt16 {
        UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }
    @inlinable @inline(__always)
    public static func u32(_ p: UnsafeRawPointer, _ offset: Int) -> UInt32 {
        UInt32(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    @inlinable @inline(__always)
    public static func u64(_ p: UnsafeRawPointer, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
    @inlinable @inline(__always)
    public static func i64(_ p: UnsafeRawPointer, _ offset: Int) -> Int64 {
        Int64(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: Int64.self))
    }
    @inlinable @inline(__always)
    public static func store<T: FixedWidthInteger>(_ value: T, _ p: UnsafeMutableRawPointer, _ offset: Int) {
        p.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
    }
}

extension Array where Element == UInt8 {
    @inlinable
    mutating func appendLE<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
