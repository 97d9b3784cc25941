import CLedgerAccel

// A fold split into parts (replay on several cores): the first part of the log is folded
// into a CompactState as usual, the rest into PartFolds on threads of their own, without
// the state before them. A part's money events only add to balances, so they are summed by
// account number; everything else a part holds (openings, closings, reversals, records in
// older layouts) is kept and applied in order when the parts are merged. A PartFold may
// take its records in any order (a thread folds pieces of the log as it claims them), so
// long as the parts merged together are the records right after the state, each once. The
// merge checks what a digest took on trust (each number is an account with that name's
// hash, opened before its first use) and refuses the parts otherwise: the caller then folds
// them in order. Merged or folded in order, the state is the same (tested).

/// Folds a batch of digests, or the records they decline, the way CompactState and PartFold
/// both do: `fold` takes digests while it can, `foldGeneral` the record a digest declined.
public protocol MoneyFolding {
    /// Folds `digests` (of the records at `firstPosition` on, in order) up to the first one
    /// it declines; returns how many it folded.
    mutating func fold(_ digests: UnsafeBufferPointer<MoneyDigest>, firstPosition: UInt64) -> Int
    /// Folds one record the general way (one whose digest was declined); throws when it does not decode.
    mutating func foldGeneral(type: UInt16, version: UInt16, payload: UnsafeRawBufferPointer, at position: UInt64) throws
}

extension MoneyFolding {
    /// Folds a batch of records from their digests: each digest the folder takes, and each
    /// record it declines the general way, `record(k)` giving record k's fields (asked for in
    /// increasing k, so a caller can walk the records only as far as it must).
    public mutating func fold(_ digests: UnsafeBufferPointer<MoneyDigest>, firstPosition: UInt64,
                              declined record: (Int) throws -> (type: UInt16, version: UInt16, payload: UnsafeRawBufferPointer)) throws {
        var k = 0
        while k < digests.count {
            k += fold(UnsafeBufferPointer(rebasing: digests[k...]), firstPosition: firstPosition + UInt64(k))
            guard k < digests.count else { return }
            let r = try record(k)
            try foldGeneral(type: r.type, version: r.version, payload: r.payload, at: firstPosition + UInt64(k))
            k += 1
        }
    }
}

/// What later records of the log do to the accounts, folded apart from the state before them
/// and in any order.
public struct PartFold: MoneyFolding {
    /// One account number's money events in the part.
    struct Change {
        var delta: Int64 = 0
        var events: UInt64 = 0
        /// The lowest and highest positions of its money events in the part.
        var first: UInt64 = 0
        var last: UInt64 = 0
        /// Its name's hash as the first digest gave it (every later one must agree).
        var nameHash: UInt32 = 0
        var used = false
    }

    /// A record folded the general way at the merge: its bytes are in `keptBytes`.
    struct Kept {
        let position: UInt64
        let type: UInt16
        let version: UInt16
        let start: Int
        let count: Int
    }

    /// By account number.
    private(set) var changes: [Change] = []
    /// In the order folded.
    private(set) var kept: [Kept] = []
    private var keptBytes: [UInt8] = []
    /// The highest position folded.
    public private(set) var position: UInt64 = 0

    /// Numbers at or past this are not summed (a damaged number would otherwise size the
    /// table): their records are kept for the merge. Nor is a number no account can have yet:
    /// account n needs n + 1 openings before the event that uses it, so the table never holds
    /// more entries than the log has events before the part's last, whatever its numbers say.
    public static let numbersMax: Int32 = 1 << 24

    /// A table up to this size is taken to stay in a core's cache while a part is folded.
    static let cachedTableBytes = 512 << 10

    public init() {}

    public mutating func fold(_ digests: UnsafeBufferPointer<MoneyDigest>, firstPosition: UInt64) -> Int {
        var done = 0
        while done < digests.count {
            // A run of digests whose numbers the table holds, folded through one pointer; then
            // the table grows for the digest that stopped the run, or that digest is declined.
            done += changes.withUnsafeMutableBufferPointer { all in
                Self.fold(UnsafeBufferPointer(rebasing: digests[done...]), into: all, firstPosition: firstPosition + UInt64(done))
            }
            guard done < digests.count else { break }
            let d = digests[done], position = Int(clamping: firstPosition + UInt64(done))
            guard d.account >= 0, d.account < Self.numbersMax, d.other < Self.numbersMax else { break }
            let needed = Int(max(d.account, d.other)) + 1
            guard needed > changes.count, needed < position else { break }
            changes.append(contentsOf: repeatElement(Change(), count: min(max(needed, 2 * changes.count), position) - changes.count))
        }
        if done > 0 { position = max(position, firstPosition + UInt64(done) - 1) }
        return done
    }

    /// Folds digests into `all` up to the first whose numbers `all` does not hold or whose
    /// names' hashes disagree with what the part saw before.
    @inline(__always)
    private static func fold(_ digests: UnsafeBufferPointer<MoneyDigest>, into all: UnsafeMutableBufferPointer<Change>, firstPosition: UInt64) -> Int {
        guard let base = all.baseAddress, let d0 = digests.baseAddress else { return 0 }
        let count = all.count, n = digests.count
        // A table larger than a core's cache (100 k accounts: 4 MB) is loaded a few digests
        // ahead, as CompactState's fold does; a smaller one is not (measured on 10 M events over
        // 100 k accounts: 355 -> 321 ms a replay; on 1 M over 10 k, 1 ms slower when it was).
        @inline(__always) func prefetch(_ d: MoneyDigest) {
            if d.account >= 0 && Int(d.account) < count { ledger_prefetch_for_write(base + Int(d.account)) }
            if d.other >= 0 && Int(d.other) < count { ledger_prefetch_for_write(base + Int(d.other)) }
        }
        let ahead = count * MemoryLayout<Change>.stride > Self.cachedTableBytes ? CompactState.Balances.prefetchAhead : 0
        for k in 0..<min(ahead, n) { prefetch(d0[k]) }
        var k = 0
        while k < n {
            let d = d0[k]
            if k + ahead < n { prefetch(d0[k + ahead]) }
            guard d.account >= 0, Int(d.account) < count, Int(d.other) < count else { break }
            let a = base + Int(d.account)
            guard !a.pointee.used || a.pointee.nameHash == d.accountHash else { break }
            let position = firstPosition + UInt64(k)
            if d.other >= 0 {
                let b = base + Int(d.other)
                // Both sides are checked before either changes (the same number twice must agree with itself).
                guard !b.pointee.used || b.pointee.nameHash == d.otherHash, d.other != d.account || d.otherHash == d.accountHash else { break }
                add(d.delta, to: a, hash: d.accountHash, at: position)
                add(0 &- d.delta, to: b, hash: d.otherHash, at: position)
            } else {
                add(d.delta, to: a, hash: d.accountHash, at: position)
            }
            k += 1
        }
        return k
    }

    @inline(__always)
    private static func add(_ delta: Int64, to c: UnsafeMutablePointer<Change>, hash: UInt32, at position: UInt64) {
        if !c.pointee.used {
            c.pointee.used = true
            c.pointee.nameHash = hash
            c.pointee.first = position
        }
        c.pointee.delta = c.pointee.delta &+ delta
        c.pointee.events += 1
        c.pointee.first = min(c.pointee.first, position)
        c.pointee.last = max(c.pointee.last, position)
    }

    /// Keeps the record for the merge, checking now that it decodes (as folding it would).
    public mutating func foldGeneral(type: UInt16, version: UInt16, payload: UnsafeRawBufferPointer, at position: UInt64) throws {
        _ = try EventCodec.scan(type: type, version: version, payload: payload)
        kept.append(Kept(position: position, type: type, version: version, start: keptBytes.count, count: payload.count))
        keptBytes.append(contentsOf: payload)
        self.position = max(self.position, position)
    }

    /// Calls `body` with each kept record of `parts`, in position order.
    static func forEachKept(_ parts: [PartFold], _ body: (Kept, UnsafeRawBufferPointer) throws -> Void) throws {
        var all: [(part: Int, kept: Kept)] = []
        for (i, part) in parts.enumerated() { all += part.kept.map { (i, $0) } }
        all.sort { $0.kept.position < $1.kept.position }
        for (i, k) in all {
            try parts[i].keptBytes.withUnsafeBytes { bytes in try body(k, UnsafeRawBufferPointer(rebasing: bytes[k.start..<(k.start + k.count)])) }
        }
    }
}

extension CompactState: MoneyFolding {
    /// Folds digests while they fold (each checked against its accounts: a numbered state, the
    /// numbers accounts here, their names' hashes the same; then added), the accounts' lines
    /// loaded a few digests ahead; stops at the first one declined.
    public mutating func fold(_ digests: UnsafeBufferPointer<MoneyDigest>, firstPosition: UInt64) -> Int {
        guard numbered else { return 0 }
        let done = withMovingBalances { balances in balances.fold(digests, firstPosition: firstPosition) }
        if done > 0 { setPosition(firstPosition + UInt64(done) - 1) }
        return done
    }

    public mutating func foldGeneral(type: UInt16, version: UInt16, payload: UnsafeRawBufferPointer, at position: UInt64) throws {
        _ = try fold(type: type, version: version, payload: payload, at: position)
    }

    /// Folds `parts`, which together hold each of the records right after this state's once,
    /// into it: their kept records in order, then their sums. Returns false, and changes nothing,
    /// when a part took something on trust that does not hold here (a number that is not the
    /// account its name says, or an account used before its opening): the caller folds the
    /// records in order instead.
    public mutating func merge(_ parts: [PartFold]) throws -> Bool {
        guard numbered else { return false }
        var merged = self
        let before = merged.count
        /// The position each account the parts opened was opened at, by number - before.
        var openedAt: [UInt64] = []
        try PartFold.forEachKept(parts) { k, payload in
            let count = merged.count
            merged.apply(try EventCodec.scan(type: k.type, version: k.version, payload: payload), at: k.position)
            if merged.count > count { openedAt.append(k.position) }
        }
        for part in parts {
            let sound = part.changes.withUnsafeBufferPointer { changes in
                changes.indices.allSatisfy { number in
                    let c = changes[number]
                    return !c.used || number < merged.count && merged.nameHash(of: number) == c.nameHash
                        && (number < before || openedAt[number - before] < c.first)
                }
            }
            guard sound else { return false }
        }
        merged.withMovingBalances { balances in
            for part in parts {
                part.changes.withUnsafeBufferPointer { changes in
                    for (number, c) in changes.enumerated() where c.used { balances.add(c.delta, events: c.events, last: c.last, to: number) }
                }
            }
        }
        merged.setPosition(parts.reduce(merged.position) { max($0, $1.position) })
        self = merged
        return true
    }
}
