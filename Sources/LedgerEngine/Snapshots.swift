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
// Payload: u32 count, then per account, sorted by name bytes, a fixed 126-byte record:
// u16 name length, name[64] zero padded, 60-byte state (StateCodec) — so one account is a
// binary search away without decoding the rest.

import LedgerDomain
import LedgerStorage

enum Snapshots {
    static let keepNewest = 10
    static let keepEvery: UInt64 = 5

    static let recordBytes = 2 + AccountID.bytesMax + StateCodec.accountBytes

    static func encode(_ accounts: [Account]) -> [UInt8] {
        let order = accounts.indices.sorted { accounts[$0].id.name.utf8.lexicographicallyPrecedes(accounts[$1].id.name.utf8) }
        let total = 4 + accounts.count * recordBytes
        return [UInt8](unsafeUninitializedCapacity: total) { buffer, count in
            let base = UnsafeMutableRawPointer(buffer.baseAddress!)
            base.initializeMemory(as: UInt8.self, repeating: 0, count: total)
            base.storeBytes(of: UInt32(accounts.count).littleEndian, as: UInt32.self)
            for (k, i) in order.enumerated() {
                let p = base + 4 + k * recordBytes
                var name = accounts[i].id.name
                name.withUTF8 { bytes in
                    p.storeBytes(of: UInt16(bytes.count).littleEndian, as: UInt16.self)
                    if let b = bytes.baseAddress { (p + 2).copyMemory(from: b, byteCount: bytes.count) }
                }
                StateCodec.encode(accounts[i], into: p + 2 + AccountID.bytesMax)
            }
            count = total
        }
    }

    static func record(_ payload: [UInt8], _ i: Int) throws -> Account {
        try payload.withUnsafeBytes { try record($0, i) }
    }

    static func record(_ payload: UnsafeRawBufferPointer, _ i: Int) throws -> Account {
        let base = 4 + i * recordBytes
        let nameLength = Int(payload[base]) | Int(payload[base + 1]) << 8
        guard nameLength >= 1 && nameLength <= AccountID.bytesMax else { throw DomainError.undecodable("bad name length") }
        let name = String(decoding: UnsafeRawBufferPointer(rebasing: payload[(base + 2)..<(base + 2 + nameLength)]), as: UTF8.self)
        return try StateCodec.decode(id: AccountID(trusted: name),
                                     UnsafeRawBufferPointer(rebasing: payload[(base + 2 + AccountID.bytesMax)..<(base + recordBytes)]))
    }

    static func count(_ payload: [UInt8]) throws -> Int {
        guard payload.count >= 4 else { throw DomainError.undecodable("payload too short") }
        let n = Int(payload[0]) | Int(payload[1]) << 8 | Int(payload[2]) << 16 | Int(payload[3]) << 24
        guard payload.count == 4 + n * recordBytes else { throw DomainError.undecodable("payload size does not match \(n) accounts") }
        return n
    }

    static func decodeAll(_ payload: [UInt8]) throws -> [Account] {
        let n = try count(payload)
        return try payload.withUnsafeBytes { raw in try (0..<n).map { try record(raw, $0) } }
    }

    /// Each record's HistoryView.nameHash, from the name bytes in place (an all-accounts answer
    /// indexes the snapshot's accounts by it: hashing them as Strings cost more).
    static func nameHashes(_ payload: [UInt8]) throws -> [UInt32] {
        let n = try count(payload)
        return try payload.withUnsafeBytes { raw in
            try (0..<n).map { i in
                let base = 4 + i * recordBytes
                let nameLength = Int(raw[base]) | Int(raw[base + 1]) << 8
                guard nameLength >= 1 && nameLength <= AccountID.bytesMax else { throw DomainError.undecodable("bad name length") }
                return HistoryView.nameHash(UnsafeRawBufferPointer(rebasing: raw[(base + 2)..<(base + 2 + nameLength)]))
            }
        }
    }

    /// Binary search for one account's record by name.
    static func find(_ name: [UInt8], in payload: [UInt8]) throws -> Account? {
        var lo = 0, hi = try count(payload)
        while lo < hi {
            let mid = (lo + hi) / 2
            let base = 4 + mid * recordBytes
            let nameLength = Int(payload[base]) | Int(payload[base + 1]) << 8
            let candidate = payload[(base + 2)..<(base + 2 + min(nameLength, AccountID.bytesMax))]
            if candidate.elementsEqual(name) { return try record(payload, mid) }
            if candidate.lexicographicallyPrecedes(name) { lo = mid + 1 } else { hi = mid }
        }
        return nil
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
    static func newest(_ layout: StoreLayout, atOrBefore position: UInt64, notes: inout [String]) throws -> SnapshotFile? {
        let all = try LedgerError.translating { try SnapshotFile.list(directory: layout.snapshotDirectory) }
        for p in all.reversed() where p <= position && p > 0 {
            do {
                let file = try SnapshotFile.read(directory: layout.snapshotDirectory, position: p)
                _ = try count(file.payload)
                return file
            } catch let error as SnapshotFile.ReadError {
                notes.append("\(error); skipped")
            } catch let error as DomainError {
                notes.append("snapshot \(SnapshotFile.name(position: p)) does not decode (\(error)); skipped")
            }
        }
        return nil
    }
}
