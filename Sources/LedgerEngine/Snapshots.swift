// Snapshots: the folded state of every account at a position, written every
// `snapshot_every` events and by `ledger snapshot`. A cache for as-of answers:
// a damaged one is reported and skipped; the answer then comes from an older one
// or the log, and is still right.
//
// Retention: the newest `keepNewest` snapshots are kept, and of older ones only those whose
// number (position / snapshot_every) is a multiple of `keepEvery`; so an as-of query far
// back replays at most keepEvery × snapshot_every events, and disk grows by one snapshot
// per keepEvery × snapshot_every events.
//
// Payload: u32 count, then per account (sorted by name): u16 name length, name, 60-byte state.

import LedgerDomain
import LedgerStorage

enum Snapshots {
    static let keepNewest = 10
    static let keepEvery: UInt64 = 10

    static func encode(_ accounts: [Account]) -> [UInt8] {
        var w = ByteWriter()
        w.u32(UInt32(accounts.count))
        for a in accounts.sorted(by: { $0.id < $1.id }) {
            w.string(a.id.name)
            w.bytes += StateCodec.encode(a)
        }
        return w.bytes
    }

    static func decode(_ payload: [UInt8]) throws -> LedgerState {
        try payload.withUnsafeBytes { raw in
            var r = ByteReader(raw)
            var state = LedgerState()
            let count = try r.u32()
            for _ in 0..<count {
                let id = AccountID(trusted: try r.string())
                var bytes = [UInt8]()
                for _ in 0..<StateCodec.accountBytes { bytes.append(try r.u8()) }
                state.accounts[id] = try StateCodec.decode(id: id, bytes)
            }
            guard r.atEnd else { throw DomainError.undecodable("trailing bytes") }
            return state
        }
    }

    static func write(_ layout: StoreLayout, accounts: [Account], head: LogHead) throws {
        let file = SnapshotFile(position: head.position, timestampMicros: head.timestampMicros, chain: head.chain, payload: encode(accounts))
        try LedgerError.translating { try file.write(to: layout.snapshotDirectory) }
    }

    /// Whether appending positions `first...last` crosses a multiple of `every`.
    static func due(first: UInt64, last: UInt64, every: Int) -> Bool {
        guard every > 0 else { return false }
        let n = UInt64(every)
        return (first - 1) / n != last / n
    }

    /// The positions the retention rule keeps out of `positions`.
    static func kept(_ positions: [UInt64], every: Int) -> Set<UInt64> {
        let sorted = positions.sorted()
        var keep = Set(sorted.suffix(keepNewest))
        if every > 0 {
            for p in sorted where (p / UInt64(every)) % keepEvery == 0 && p % UInt64(every) == 0 { keep.insert(p) }
        }
        return keep
    }

    static func prune(_ layout: StoreLayout, every: Int) throws {
        let all = try LedgerError.translating { try SnapshotFile.list(directory: layout.snapshotDirectory) }
        let keep = kept(all, every: every)
        for p in all where !keep.contains(p) {
            try LedgerError.translating { try FileSystem.remove(layout.snapshotDirectory + "/" + SnapshotFile.name(position: p)) }
        }
    }

    /// The newest readable snapshot at or before `position`; damaged ones are reported in `notes` and skipped.
    static func newest(_ layout: StoreLayout, atOrBefore position: UInt64, notes: inout [String]) throws -> (UInt64, LedgerState)? {
        let all = try LedgerError.translating { try SnapshotFile.list(directory: layout.snapshotDirectory) }
        for p in all.reversed() where p <= position && p > 0 {
            do {
                let file = try SnapshotFile.read(directory: layout.snapshotDirectory, position: p)
                var state = try decode(file.payload)
                state.position = p
                return (p, state)
            } catch let error as SnapshotFile.ReadError {
                notes.append("\(error); skipped")
            } catch let error as DomainError {
                notes.append("snapshot \(SnapshotFile.name(position: p)) does not decode (\(error)); skipped")
            }
        }
        return nil
    }
}
