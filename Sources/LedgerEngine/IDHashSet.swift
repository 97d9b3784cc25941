import LedgerStorage

// The idempotency keys of an import's own earlier lines (the store's are looked up in the
// ids view; beyond a bound the import spills these to KeyRuns). 16 bytes per key — hash
// and position — in one flat open-addressing table; no String is kept. A hit only says
// "maybe": the caller confirms it against the recorded event, as with the ids view itself.

struct IDHashSet {
    /// (hash, position) pairs; hash 0 marks an empty slot (Views.idHash never returns 0).
    private var slots: [(hash: UInt64, position: UInt64)]
    private(set) var count = 0

    init(minimumCapacity: Int) {
        var capacity = 1024
        while capacity * 3 < minimumCapacity * 4 { capacity *= 2 }
        slots = Array(repeating: (0, 0), count: capacity)
    }

    /// Positions recorded under `hash`, in insertion order of their probe run.
    func positions(_ hash: UInt64, _ visit: (UInt64) throws -> Void) rethrows {
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: hash) & mask
        while slots[i].hash != 0 {
            if slots[i].hash == hash { try visit(slots[i].position) }
            i = (i + 1) & mask
        }
    }

    /// Whether some entry has hash `hash` (what `positions` would visit at least once).
    func holds(_ hash: UInt64) -> Bool {
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: hash) & mask
        while slots[i].hash != 0 {
            if slots[i].hash == hash { return true }
            i = (i + 1) & mask
        }
        return false
    }

    /// Hands `body` every entry sorted by hash, then empties the set, keeping its memory (an
    /// import spilling its keys: no second copy of them, no table grown again from scratch).
    mutating func drainSorted(_ body: (UnsafeBufferPointer<(hash: UInt64, position: UInt64)>) throws -> Void) rethrows {
        try slots.withUnsafeMutableBufferPointer { all in
            var n = 0
            for i in 0..<all.count where all[i].hash != 0 {
                all[n] = all[i]
                n += 1
            }
            var used = UnsafeMutableBufferPointer(rebasing: all[0..<n])
            used.sort { $0.hash < $1.hash }
            defer { for i in 0..<all.count { all[i] = (0, 0) } }
            try body(UnsafeBufferPointer(used))
        }
        count = 0
    }

    /// Every entry, as (hash, position).
    func forEach(_ body: (UInt64, UInt64) throws -> Void) rethrows {
        for s in slots where s.hash != 0 { try body(s.hash, s.position) }
    }

    /// Starts loading the slot where a lookup of `hash` begins (a caller a few keys ahead).
    func prefetch(_ hash: UInt64) {
        slots.withUnsafeBufferPointer { Prefetch.forRead($0.baseAddress! + (Int(truncatingIfNeeded: hash) & ($0.count - 1))) }
    }

    mutating func insert(_ hash: UInt64, position: UInt64) {
        precondition(hash != 0)
        if (count + 1) * 4 > slots.count * 3 { grow() }
        place(hash, position)
        count += 1
    }

    private mutating func place(_ hash: UInt64, _ position: UInt64) {
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: hash) & mask
        while slots[i].hash != 0 { i = (i + 1) & mask }
        slots[i] = (hash, position)
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: (0, 0), count: old.count * 2)
        for s in old where s.hash != 0 { place(s.hash, s.position) }
    }
}
