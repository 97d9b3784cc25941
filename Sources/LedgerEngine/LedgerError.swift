// Every failure the engine reports, grouped by what the caller can do about it.
// The CLI maps these (and only these) to exit codes.

import LedgerStorage

public enum LedgerError: Error, Equatable, CustomStringConvertible {
    /// Bad arguments, amounts or times (exit 2).
    case usage(String)
    /// A business rule said no (exit 1); `code` is the stable error code of SPEC §3.
    case rejected(code: String, message: String)
    /// Concurrency (exit 3): `version_conflict` or `busy`.
    case conflict(code: String, message: String)
    /// Corruption found (exit 4).
    case integrity(String)
    /// The system said no: disk full, permission denied… (exit 5).
    case io(SystemError)

    public var description: String {
        switch self {
        case .usage(let m), .integrity(let m): return m
        case .rejected(_, let m), .conflict(_, let m): return m
        case .io(let e): return e.description
        }
    }

    /// Turns a storage error into the engine's vocabulary.
    public static func from(_ error: StorageError) -> LedgerError {
        switch error {
        case .io(let e): return .io(e)
        case .busy: return .conflict(code: "busy", message: error.description)
        case .timestampBeforeLast: return .rejected(code: "time_before_last", message: error.description)
        case .recordTooLarge, .invalidRecordType, .batchTooLarge, .positionBeyondHead, .notABatchBoundary:
            return .usage(error.description)
        case .corruptRecord, .corruptSegmentHeader, .formatTooNew, .missingSegment, .chainMismatch:
            return .integrity(error.description)
        }
    }

    /// The record at `position` is not an event this version can read (corruption, exit 4).
    static func undecodableEvent(at position: UInt64, _ error: Error) -> LedgerError {
        .integrity("event at position \(position) does not decode: \(error)")
    }

    /// Runs `body`, translating storage and system errors.
    static func translating<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as StorageError { throw from(e) } catch let e as SystemError { throw LedgerError.io(e) }
    }
}
