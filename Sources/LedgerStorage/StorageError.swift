// Failures of the storage layer, one case per thing a caller can act on, each
// naming the file, byte offset and position where it happened.

public enum StorageError: Error, Equatable, CustomStringConvertible {
    case io(SystemError)
    case busy(lockPath: String, waitedMillis: Int)
    case corruptRecord(segment: String, offset: Int, position: UInt64, reason: String)
    case corruptSegmentHeader(segment: String, reason: String)
    case formatTooNew(segment: String, found: UInt32, newestKnown: UInt32)
    case missingSegment(afterPosition: UInt64, found: String)
    case recordTooLarge(bytes: Int, max: Int)
    case invalidRecordType(UInt16)
    case batchTooLarge(records: Int, bytes: Int)
    case timestampBeforeLast(timestampMicros: Int64, lastMicros: Int64)
    case chainMismatch(position: UInt64, expected: String, found: String)
    case positionBeyondHead(position: UInt64, head: UInt64)
    case notABatchBoundary(position: UInt64)

    /// True for damage to committed data (exit 4 in the CLI), false for usage and I/O problems.
    public var isIntegrityFailure: Bool {
        switch self {
        case .corruptRecord, .corruptSegmentHeader, .missingSegment, .chainMismatch, .formatTooNew: return true
        default: return false
        }
    }

    public var description: String {
        switch self {
        case .io(let e): return e.description
        case .busy(let path, let ms): return "store is busy: another writer holds \(path) (waited \(ms) ms)"
        case .corruptRecord(let segment, let offset, let position, let reason):
            return "corrupt record in \(segment) at byte offset \(offset) (position \(position)): \(reason)"
        case .corruptSegmentHeader(let segment, let reason): return "corrupt segment header in \(segment): \(reason)"
        case .formatTooNew(let segment, let found, let newest):
            return "\(segment) has format version \(found); this ledger reads versions up to \(newest)"
        case .missingSegment(let after, let found):
            return "log has a gap after position \(after): next segment is \(found)"
        case .recordTooLarge(let bytes, let max): return "record body of \(bytes) bytes exceeds the limit of \(max)"
        case .invalidRecordType(let t): return "record type \(t) is reserved for the storage layer"
        case .batchTooLarge(let records, let bytes):
            return "batch of \(records) records / \(bytes) bytes exceeds the limits (\(Limits.batchRecordsMax) records, \(Limits.batchBytesMax) bytes)"
        case .timestampBeforeLast(let t, let last):
            return "timestamp \(t) µs is before the last record's \(last) µs"
        case .chainMismatch(let position, let expected, let found):
            return "hash chain differs at position \(position): expected \(expected), log has \(found)"
        case .positionBeyondHead(let position, let head): return "position \(position) is beyond the head \(head)"
        case .notABatchBoundary(let position):
            return "position \(position) is not the end of a committed batch; heads are only recorded at batch ends"
        }
    }
}

extension StorageError {
    /// Runs `body`, turning a SystemError into `.io`.
    static func wrapping<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as SystemError { throw StorageError.io(e) }
    }
}
