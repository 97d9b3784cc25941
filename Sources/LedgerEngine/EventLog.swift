// Reading domain events out of the storage log: the one place records become events.

import LedgerDomain
import LedgerStorage

extension Log {
    /// Visits decoded events from `position` through `last`; the visitor returns false to stop.
    func forEachEvent(from position: UInt64, through last: UInt64 = .max, _ visit: (RecordedEvent) throws -> Bool) throws {
        try LedgerError.translating {
            try forEach(from: position, through: last) { record in
                let event: Event
                do {
                    event = try EventCodec.decode(type: record.type, version: record.schemaVersion, payload: record.payload)
                } catch let error as DomainError {
                    throw LedgerError.undecodableEvent(at: record.position, error)
                }
                return try visit(RecordedEvent(position: record.position, timestamp: Timestamp(micros: record.timestampMicros), event: event))
            }
        }
    }

    func event(at position: UInt64) throws -> RecordedEvent? {
        try LedgerError.translating {
            try withRecord(at: position) { record in
                do {
                    let event = try EventCodec.decode(type: record.type, version: record.schemaVersion, payload: record.payload)
                    return RecordedEvent(position: position, timestamp: Timestamp(micros: record.timestampMicros), event: event)
                } catch let error as DomainError {
                    throw LedgerError.undecodableEvent(at: position, error)
                }
            }
        }
    }
}
