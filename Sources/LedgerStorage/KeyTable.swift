// 8-byte keys with a position each, in memory, laid out exactly as a keys-only SlotTable of
// the same capacity lays them out on disk (SlotTable.swift: the key's home slot, Robin Hood
// probing, ties in SlotTable.precedes order). An import keeps its own idempotency keys here
// (16 bytes each: key and position; no String is kept): lookups as it validates, and at the
// end the ids view is written from it slot by slot, with nothing sorted (SlotTable
// .prepareInsertMany(laidOut:)). A hit only says "maybe": the caller confirms it against the
// recorded event, as with the ids view itself.

public struct KeyTable {
    public typealias Slot = (key: UInt64, position: UInt64)
    /// `capacity` slots; key 0 marks an empty one (callers never insert 0). Kernel-zeroed
    /// memory (ZeroedMemory): a table grown to a million keys is 32 MiB that a memset would
    /// fault in 4 KiB at a time. Copied before a write when shared, as an Array would be.
    private var table: ZeroedMemory
    /// Always a table's capacity for some count (SlotTable.capacityFor): a power of two,
    /// at least 1024, grown (doubled) above SlotTable.loadPercentMax.
    public private(set) var capacity: Int
    public private(set) var count = 0

    /// The most memory a table laid out to write a keys view from takes (SlotTable
    /// .prepareInsertMany(laidOut:)): 32 MiB, a table of up to 1.4 M keys, as much as an
    /// import's own keys take at most; a larger view is written by SlotTableWriter, in bounded memory.
    public static let unionBytesMax = 32 << 20

    /// The memory a table of `count` keys takes.
    public static func bytes(forCount count: Int) -> Int { SlotTable.capacityFor(count: count) * MemoryLayout<Slot>.stride }

    /// Room for `minimumCapacity` keys without growing: the capacity a SlotTable of that many has.
    public init(minimumCapacity: Int) {
        capacity = SlotTable.capacityFor(count: minimumCapacity)
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

    /// SlotTable.hash of the key's 8 little-endian bytes (FNV-1a 64, mixed), without a buffer.
    @inline(__always)
    public static func slotHash(_ key: UInt64) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        var k = key
        for _ in 0..<8 {
            h = (h ^ (k & 0xFF)) &* 0x100_0000_01b3
            k >>= 8
        }
        h ^= h >> 33
        h = h &* 0xff51_afd7_ed55_8ccd
        return h ^ (h >> 33)
    }

    @inline(__always)
    private static func home(_ key: UInt64, _ mask: Int) -> Int { Int(truncatingIfNeeded: slotHash(key)) & mask }

    /// SlotTable.precedes for two slots of 8-byte keys: key bytes in memory order (the
    /// little-endian key byte-swapped, compared as a number), then position.
    @inline(__always)
    private static func precedes(_ a: Slot, _ b: Slot) -> Bool {
        a.key != b.key ? a.key.byteSwapped < b.key.byteSwapped : a.position < b.position
    }

    // Each lookup and insert below also takes the key's slotHash: a caller that has it (an
    // import's parser computes it with the key) saves two of its three computations a key.

    /// Positions recorded under `key`.
    public func positions(_ key: UInt64, _ visit: (UInt64) throws -> Void) rethrows {
        try positions(key, slotHash: Self.slotHash(key), visit)
    }

    public func positions(_ key: UInt64, slotHash: UInt64, _ visit: (UInt64) throws -> Void) rethrows {
        assert(slotHash == Self.slotHash(key))
        let slots = slots, mask = capacity - 1
        var i = Int(truncatingIfNeeded: slotHash) & mask
        while slots[i].key != 0 {
            if slots[i].key == key { try visit(slots[i].position) }
            i = (i + 1) & mask
        }
    }

    /// Whether some entry has key `key` (what `positions` would visit at least once).
    public func holds(_ key: UInt64) -> Bool { holds(key, slotHash: Self.slotHash(key)) }

    public func holds(_ key: UInt64, slotHash: UInt64) -> Bool {
        assert(slotHash == Self.slotHash(key))
        let slots = slots, mask = capacity - 1
        var i = Int(truncatingIfNeeded: slotHash) & mask
        while slots[i].key != 0 {
            if slots[i].key == key { return true }
            i = (i + 1) & mask
        }
        return false
    }

    /// Starts loading the slot where a lookup of the key with this slotHash begins (a caller a
    /// few keys ahead).
    public func prefetch(slotHash: UInt64) {
        Prefetch.forRead(slots.baseAddress! + (Int(truncatingIfNeeded: slotHash) & (capacity - 1)))
    }

    public mutating func insert(_ key: UInt64, position: UInt64) {
        insert(key, slotHash: Self.slotHash(key), position: position)
    }

    public mutating func insert(_ key: UInt64, slotHash: UInt64, position: UInt64) {
        precondition(key != 0)
        assert(slotHash == Self.slotHash(key))
        makeUnique()
        if (count + 1) * 100 > capacity * SlotTable.loadPercentMax { grow() }
        Self.place((key, position), home: Int(truncatingIfNeeded: slotHash) & (capacity - 1), in: slots)
        count += 1
    }

    /// Robin Hood insertion as SlotTable.robinHoodInsert does it: an entry further from its home
    /// takes the place of one nearer to its own; at equal distances, `precedes` decides.
    private static func place(_ slot: Slot, home: Int, in slots: UnsafeMutableBufferPointer<Slot>) {
        let mask = slots.count - 1
        var carried = slot
        var i = home
        var distance = 0
        while slots[i].key != 0 {
            let resident = slots[i]
            let residentDistance = (i - Self.home(resident.key, mask)) & mask
            if distance > residentDistance || (distance == residentDistance && precedes(carried, resident)) {
                slots[i] = carried
                carried = resident
                distance = residentDistance
            }
            i = (i + 1) & mask
            distance += 1
        }
        slots[i] = carried
    }

    private mutating func grow() {
        let old = slots
        let bigger = ZeroedMemory(byteCount: table.byteCount * 2)
        let new = UnsafeMutableBufferPointer(start: bigger.base.assumingMemoryBound(to: Slot.self), count: capacity * 2)
        for s in old where s.key != 0 { Self.place(s, home: Self.home(s.key, capacity * 2 - 1), in: new) }
        table = bigger
        capacity *= 2
    }

    /// Hands `body` every entry sorted by key, then empties the table, keeping its memory (an
    /// import spilling its keys: no second copy of them, no table grown again from scratch).
    public mutating func drainSorted(_ body: (UnsafeBufferPointer<Slot>) throws -> Void) rethrows {
        makeUnique()
        let all = slots
        var n = 0
        for i in 0..<all.count where all[i].key != 0 {
            all[n] = all[i]
            n += 1
        }
        var used = UnsafeMutableBufferPointer(rebasing: all[0..<n])
        used.sort { $0.key < $1.key }
        defer { table.base.initializeMemory(as: UInt8.self, repeating: 0, count: table.byteCount) }
        try body(UnsafeBufferPointer(used))
        count = 0
    }

    /// Every entry, as (key, position).
    public func forEach(_ body: (UInt64, UInt64) throws -> Void) rethrows {
        for s in slots where s.key != 0 { try body(s.key, s.position) }
    }

    /// Every slot in order, empty ones included (key 0): the layout a SlotTable of this
    /// capacity has for these entries.
    public func withSlots<R>(_ body: (UnsafeBufferPointer<Slot>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(slots))
    }
}
