import LedgerStorage

// The idempotency keys of an import's own earlier lines (the store's are looked up in the
// ids view; beyond a bound the import spills these to KeyRuns). 16 bytes per key — hash
// and position — in one flat open-addressing table; no String is kept. A hit only says
// "maybe": the caller confirms it against the recorded event, as with the ids view itself.

struct IDHashSet {
    typealias Slot = (hash: UInt64, position: UInt64)
    /// `capacity` slots; hash 0 marks an empty one (Views.idHash never returns 0). Kernel-zeroed
    /// memory (ZeroedMemory): a set grown to a million keys is 32 MiB that a memset would fault
    /// in 4 KiB at a time. Copied before a write when shared, as an Array would be.
    private var table: ZeroedMemory
    private(set) var capacity: Int
    private(set) var count = 0

    init(minimumCapacity: Int) {
        var capacity = 1024
        while capacity * 3 < minimumCapacity * 4 { capacity *= 2 }
        self.capacity = capacity
        table = ZeroedMemory(byteCount: capacity * MemoryLayout<Slot>.stride)
    }

    private var slots: UnsafeMutableBufferPointer<Slot> {
        UnsafeMutableBufferPointer(start: table.base.assumingMemoryBound(to: Slot.self), count: capacity)
    }

    private mutating func makeUnique() {
        guard !isKnownUniquelyReferenced(&table) else { return }
        let copy = ZeroedMemory(byteCount: table.byteCount)
        copy.base.copyMemory(from: table.base, byteCount: table.byteCount)
        table = copy
    }

    /// Positions recorded under `hash`, in insertion order of their probe run.
    func positions(_ hash: UInt64, _ visit: (UInt64) throws -> Void) rethrows {
        let slots = slots, mask = capacity - 1
        var i = Int(truncatingIfNeeded: hash) & mask
        while slots[i].hash != 0 {
            if slots[i].hash == hash { try visit(slots[i].position) }
            i = (i + 1) & mask
        }
    }

    /// Whether some entry has hash `hash` (what `positions` would visit at least once).
    func holds(_ hash: UInt64) -> Bool {
        let slots = slots, mask = capacity - 1
        var i = Int(truncatingIfNeeded: hash) & mask
        while slots[i].hash != 0 {
            if slots[i].hash == hash { return true }
            i = (i + 1) & mask
        }
        return false
    }

    /// Hands `body` every entry sorted by hash, then empties the set, keeping its memory (an
    /// import spilling its keys: no second copy of them, no table grown again from scratch).
    mutating func drainSorted(_ body: (UnsafeBufferPointer<Slot>) throws -> Void) rethrows {
        makeUnique()
        let all = slots
        var n = 0
        for i in 0..<all.count where all[i].hash != 0 {
            all[n] = all[i]
            n += 1
        }
        var used = UnsafeMutableBufferPointer(rebasing: all[0..<n])
        used.sort { $0.hash < $1.hash }
        defer { table.base.initializeMemory(as: UInt8.self, repeating: 0, count: table.byteCount) }
        try body(UnsafeBufferPointer(used))
        count = 0
    }

    /// Every entry, as (hash, position).
    func forEach(_ body: (UInt64, UInt64) throws -> Void) rethrows {
        for s in slots where s.hash != 0 { try body(s.hash, s.position) }
    }

    /// Starts loading the slot where a lookup of `hash` begins (a caller a few keys ahead).
    func prefetch(_ hash: UInt64) {
        Prefetch.forRead(slots.baseAddress! + (Int(truncatingIfNeeded: hash) & (capacity - 1)))
    }

    mutating func insert(_ hash: UInt64, position: UInt64) {
        precondition(hash != 0)
        makeUnique()
        if (count + 1) * 4 > capacity * 3 { grow() }
        Self.place(hash, position, in: slots)
        count += 1
    }

    private static func place(_ hash: UInt64, _ position: UInt64, in slots: UnsafeMutableBufferPointer<Slot>) {
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: hash) & mask
        while slots[i].hash != 0 { i = (i + 1) & mask }
        slots[i] = (hash, position)
    }

    private mutating func grow() {
        let old = slots
        let bigger = ZeroedMemory(byteCount: table.byteCount * 2)
        let new = UnsafeMutableBufferPointer(start: bigger.base.assumingMemoryBound(to: Slot.self), count: capacity * 2)
        for s in old where s.hash != 0 { Self.place(s.hash, s.position, in: new) }
        table = bigger
        capacity *= 2
    }
}
