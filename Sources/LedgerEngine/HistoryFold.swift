// The history view's half of an all-accounts as-of answer: the records after the snapshot,
// folded into the newest node of every account they touch (by name hash), and the accounts
// opened among them. It needs no snapshot, so it runs on its own thread while the snapshot
// is read and decoded; `apply` then brings the snapshot's accounts up to date.
//
// The name hash is 32 bits: two accounts sharing one cannot be told apart here. apply()
// sees every account there is at the answer's position (the snapshot's and those opened
// after it), so it catches that and says false; the caller then folds the log instead.

import LedgerDomain
import LedgerStorage

struct HistoryFold {
    /// Touched accounts by name hash → their number in `latest`.
    private var touched = NameHashIndex(capacity: 4096)
    /// What is kept of each touched account's newest node, and its name hash.
    private var latest: [Latest] = []
    private var hashes: [UInt32] = []
    /// Accounts opened in the range: the position of their AccountOpened and their name hash.
    private var opened: [(position: UInt64, nameHash: UInt32)] = []
    let from: UInt64
    let through: UInt64

    /// Half a Node (24 bytes: ten thousand of them stay in a core's cache).
    private struct Latest {
        var balance: Int64
        var position: UInt64
        var version: UInt32
        var closed: Bool

        init(_ node: HistoryView.Node) {
            balance = node.balance
            position = node.position
            version = node.version
            closed = node.closed
        }
    }

    /// Folds records `from...through`; nil when one is missing. Throws SlotTableError on a damaged record.
    static func read(_ view: HistoryView, from: UInt64, through: UInt64) throws -> HistoryFold? {
        var fold = HistoryFold(from: from, through: through)
        let reader = try view.records(from: from, through: through)
        // One loop over the records, no call per node: this is most of an answer's work.
        while let chunk = try reader.next() {
            for r in 0..<chunk.count {
                for side in 0..<2 {
                    guard let node = HistoryView.node(in: chunk, record: r, side: side) else { continue }
                    if node.prev == 0 { fold.opened.append((node.position, node.nameHash)) }
                    if let i = fold.touched.find(node.nameHash) {
                        fold.latest[i] = Latest(node)
                    } else {
                        _ = fold.touched.insert(node.nameHash, fold.latest.count)
                        fold.latest.append(Latest(node))
                        fold.hashes.append(node.nameHash)
                    }
                }
            }
        }
        return reader.complete ? fold : nil
    }

    private init(from: UInt64, through: UInt64) {
        self.from = from
        self.through = through
    }

    /// Brings `accounts` (every account as of `from - 1`, in name order; `nameHashes`, their
    /// names' HistoryView.nameHash) to `through`. Accounts opened in the range take their name
    /// and fixed terms from `openedAt` (every account there is now, by opening position), asked
    /// only when there are some. false, with `accounts` untouched, when the fold cannot be used:
    /// two accounts share a name hash, or an opened account or a touched one is not known.
    func apply(to accounts: inout [Account], nameHashes: [UInt32], openedAt: () throws -> [UInt64: Account]?) rethrows -> Bool {
        precondition(nameHashes.count == accounts.count)
        var index = NameHashIndex(capacity: accounts.count + opened.count)
        for (i, hash) in nameHashes.enumerated() where !index.insert(hash, i) { return false }
        var added: [Account] = []
        if !opened.isEmpty {
            guard let all = try openedAt() else { return false }
            for (position, hash) in opened {
                guard let now = all[position], HistoryView.nameHash(now.id.name) == hash,
                      index.insert(hash, accounts.count + added.count) else { return false }
                var a = Account(id: now.id, currency: now.currency, scale: now.scale, overdraft: now.overdraft)
                a.openedPosition = position
                added.append(a)
            }
        }
        // Every touched account must be one of them (else the view and the accounts disagree).
        var targets: [Int] = []
        targets.reserveCapacity(hashes.count)
        for hash in hashes {
            guard let i = index.find(hash) else { return false }
            targets.append(i)
        }
        accounts += added
        for (i, l) in zip(targets, latest) {
            accounts[i].balance = l.balance
            accounts[i].version = UInt64(l.version)
            accounts[i].status = l.closed ? .closed : .open
            accounts[i].lastPosition = l.position
        }
        if !added.isEmpty { accounts.sortByName() }
        return true
    }
}

/// Numbers by 32-bit name hash (open addressing).
struct NameHashIndex {
    /// hash << 32 | (number + 1), 0 = empty; the hash is kept whole, so equal hashes are caught.
    private var slots: [UInt64]

    init(capacity: Int) {
        // At most 3/4 full: small enough to stay in a core's cache while the records stream by.
        var size = 16
        while size * 3 < capacity * 4 { size *= 2 }
        slots = [UInt64](repeating: 0, count: size)
    }

    /// false when the hash is already there.
    mutating func insert(_ hash: UInt32, _ number: Int) -> Bool {
        if (number + 2) * 4 > slots.count * 3 { grow() }
        let mask = slots.count - 1
        var i = Int(hash &* 0x9E37_79B1) & mask
        while slots[i] != 0 {
            if UInt32(truncatingIfNeeded: slots[i] >> 32) == hash { return false }
            i = (i + 1) & mask
        }
        slots[i] = UInt64(hash) << 32 | UInt64(number + 1)
        return true
    }

    func find(_ hash: UInt32) -> Int? {
        let mask = slots.count - 1
        var i = Int(hash &* 0x9E37_79B1) & mask
        while slots[i] != 0 {
            if UInt32(truncatingIfNeeded: slots[i] >> 32) == hash { return Int(slots[i] & 0xFFFF_FFFF) - 1 }
            i = (i + 1) & mask
        }
        return nil
    }

    private mutating func grow() {
        let old = slots
        slots = [UInt64](repeating: 0, count: old.count * 2)
        let mask = slots.count - 1
        for s in old where s != 0 {
            var i = Int(UInt32(truncatingIfNeeded: s >> 32) &* 0x9E37_79B1) & mask
            while slots[i] != 0 { i = (i + 1) & mask }
            slots[i] = s
        }
    }
}
