// A committed batch folded from its records' digests (replay of the balances, in parts or
// read ahead): the digests the folder takes, and the records it declines the general way,
// walked to only when one is declined.

import LedgerDomain
import LedgerStorage

/// A batch's records, walked forward to the ones asked for: increasing indices, the last one
/// again if asked twice.
struct BatchCursor {
    private var records: RecordBatch.Iterator
    /// The index of the record `records` yields next.
    private var next = 0
    private var last: StoredRecord?

    init(_ batch: RecordBatch) { records = batch.makeIterator() }

    mutating func record(_ k: Int) -> StoredRecord {
        if let last, next == k + 1 { return last }
        precondition(k >= next, "records are asked for in order")
        while next < k {
            _ = records.next()
            next += 1
        }
        let record = records.next()!
        next += 1
        last = record
        return record
    }
}

extension MoneyFolding {
    /// Folds records `range` of `batch` (by index) from their digests (`digests[k]` is record
    /// `range.lowerBound + k`'s), those the folder declines the general way; a record that does
    /// not decode is an integrity error at its position.
    mutating func fold(_ batch: RecordBatch, _ range: Range<Int>, digests: UnsafeBufferPointer<MoneyDigest>, cursor: inout BatchCursor) throws {
        precondition(digests.count == range.count)
        var declined: UInt64 = 0
        do {
            try fold(digests, firstPosition: batch.firstPosition + UInt64(range.lowerBound)) { k in
                let record = cursor.record(range.lowerBound + k)
                declined = record.position
                return (record.type, record.schemaVersion, record.payload)
            }
        } catch let error as DomainError {
            throw LedgerError.undecodableEvent(at: declined, error)
        }
    }
}
