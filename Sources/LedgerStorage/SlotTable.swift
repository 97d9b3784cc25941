// A file-backed open-addressing hash table of fixed-size slots keyed by bytes:
// the storage under the views (accounts by name, idempotency keys). Knows bytes,
// not money. Each slot carries its own CRC and the log position it reflects, so
// re-applying an event is a no-op and a torn slot is detected, never believed.
// Robin Hood linear probing with ties broken by (key, position) makes the layout
// a function of the set of entries alone: a table built incrementally and one
// rebuilt from scratch are byte-identical.
//
// header (64 bytes): "LEDGRTBL", u32 version (1), u32 slotBytes, u64 capacity (power of 2),
//   u64 count, u64 checkpoint, u32 keyBytesMax, u32 valueBytes, u32 contentVersion (the
//   owner's version of what its keys and values mean; 0 before there was one),
//   u64 checkpointMark (a number the owner records with each checkpoint, true as of it),
//   u32 crc32c(0..<60)
// slot: u32 crc32c(slot bytes 4..<slotBytes), u16 keyLength (0 = empty), u16 reserved,
//   u64 appliedPosition, key[keyBytesMax] (zero padded), value[valueBytes]

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

public enum SlotTableError: Error, Equatable, CustomStringConvertible {
    case damaged(path: String, reason: String)
    case io(SystemError)

    public var description: String {
        switch self {
        case .damaged(let path, let reason): return "\(path) is damaged: \(reason)"
        case .io(let e): return e.description
        }
    }
}

public final class SlotTable {
    public static let headerBytes = 64
    static let magic = Array("LEDGRTBL".utf8)
    static let slotHeaderBytes = 16
    /// Grow when more than this fraction (in percent) of slots is used.
    static let loadPercentMax = 70

    public let path: String
    public let keyBytesMax: Int
    public let valueBytes: Int
    /// The owner's version of its keys' and values' meaning: a table of another version opens as damaged.
    public let contentVersion: UInt32
    public let slotBytes: Int
    public private(set) var capacity: Int
    public private(set) var count: Int
    /// Every event at or before this position is reflected durably in the table.
    public private(set) var checkpoint: UInt64
    /// A number the owner recorded with the checkpoint, true as of it (the accounts view: how
    /// many accounts were opened through it). Inserts after the checkpoint rewrite the header
    /// with their `count`, which a crash can leave behind; the mark changes only with the checkpoint.
    public private(set) var checkpointMark: UInt64
    fileprivate var fd: FileDescriptor

    public struct Slot {
        public let index: Int
        public let appliedPosition: UInt64
        public let key: [UInt8]
        public let value: [UInt8]
    }

    private init(path: String, fd: FileDescriptor, keyBytesMax: Int, valueBytes: Int, contentVersion: UInt32, capacity: Int, count: Int, checkpoint: UInt64,
                 checkpointMark: UInt64) {
        self.path = path
        self.fd = fd
        self.keyBytesMax = keyBytesMax
        self.valueBytes = valueBytes
        self.contentVersion = contentVersion
        slotBytes = Self.slotHeaderBytes + keyBytesMax + valueBytes
        self.capacity = capacity
        self.count = count
        self.checkpoint = checkpoint
        self.checkpointMark = checkpointMark
    }

    deinit { fd.close() }

    static func wrap<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as SystemError { throw SlotTableError.io(e) }
    }

    /// Opens an existing table; nil if the file does not exist.
    public static func open(path: String, keyBytesMax: Int, valueBytes: Int, contentVersion: UInt32 = 0, writable: Bool) throws -> SlotTable? {
        guard let fd = try wrap({ try FileDescriptor.openIfExists(path, writable ? O_RDWR : O_RDONLY) }) else { return nil }
        do {
            let header = try wrap { try fd.read(count: headerBytes, at: 0) }
            guard header.count == headerBytes, Array(header[0..<8]) == magic else { throw SlotTableError.damaged(path: path, reason: "bad header") }
            return try header.withUnsafeBytes { raw -> SlotTable in
                let p = raw.baseAddress!
                guard LE.u32(p, 60) == CRC32C.checksum(UnsafeRawBufferPointer(start: p, count: 60)) else {
                    throw SlotTableError.damaged(path: path, reason: "header CRC mismatch")
                }
                let version = LE.u32(p, 8), slotBytes = Int(LE.u32(p, 12)), capacity = Int(truncatingIfNeeded: LE.u64(p, 16))
                guard version == 1, Int(LE.u32(p, 40)) == keyBytesMax, Int(LE.u32(p, 44)) == valueBytes,
                      slotBytes == slotHeaderBytes + keyBytesMax + valueBytes, capacity > 0, capacity & (capacity - 1) == 0 else {
                    throw SlotTableError.damaged(path: path, reason: "unexpected layout")
                }
                let stored = LE.u32(p, 48)
                guard stored == contentVersion else {
                    throw SlotTableError.damaged(path: path, reason: "its content is version \(stored), this ledger's is \(contentVersion)")
                }
                let size = try wrap { try fd.size() }
                guard capacity <= size / slotBytes, size == headerBytes + capacity * slotBytes else {
                    throw SlotTableError.damaged(path: path, reason: "size \(size) does not match capacity \(capacity)")
                }
                return SlotTable(path: path, fd: fd, keyBytesMax: keyBytesMax, valueBytes: valueBytes, contentVersion: contentVersion, capacity: capacity,
                                 count: Int(truncatingIfNeeded: LE.u64(p, 24)), checkpoint: LE.u64(p, 32),
                                 checkpointMark: LE.u64(p, 52))
            }
        } catch {
            fd.close()
            throw error
        }
    }

    public struct Entry {
        public let key: [UInt8]
        public let appliedPosition: UInt64
        public let value: [UInt8]
        public init(key: [UInt8], appliedPosition: UInt64, value: [UInt8]) {
            self.key = key
            self.appliedPosition = appliedPosition
            self.value = value
        }
    }

    /// Creates (replacing atomically) a table holding `entries`, durable through `checkpoint`:
    /// written whole under a temporary name, fsynced and renamed into place.
    public static func create(path: String, keyBytesMax: Int, valueBytes: Int, contentVersion: UInt32 = 0, entries: [Entry] = [],
                              checkpoint: UInt64 = 0) throws -> SlotTable {
        let writer = SlotTableWriter(path: path, keyBytesMax: keyBytesMax, valueBytes: valueBytes, contentVersion: contentVersion,
                                     entriesExpected: entries.count)
        for e in entries {
            try e.key.withUnsafeBytes { k in try e.value.withUnsafeBytes { v in try writer.add(key: k, appliedPosition: e.appliedPosition, value: v) } }
        }
        return try writer.finish(checkpoint: checkpoint)
    }

    /// Puts a table written by SlotTableWriter in place (rename) and opens it.
    static func open(installing prepared: PreparedSlotTable) throws -> SlotTable {
        try prepared.install()
        guard let table = try open(path: prepared.path, keyBytesMax: prepared.keyBytesMax, valueBytes: prepared.valueBytes,
                                   contentVersion: prepared.contentVersion, writable: true) else {
            throw SlotTableError.damaged(path: prepared.path, reason: "vanished after create")
        }
        return table
    }

    /// Adds or replaces many entries in one pass: the table is written again, with them, under a
    /// temporary name (this reads the file and changes nothing, so it may run on another thread
    /// while the caller does other work), and then replaces the file atomically (install).
    /// Cheaper than one insert per entry when they are many. Entries whose key `isReplaced`
    /// says is given again are left out; `produce` calls `add(key, position, value)` for each
    /// new or replacing entry. `adding`: how many entries `produce` gives, when known: the
    /// writer then takes the memory to place the whole table at once, up to
    /// SlotTableWriter.knownEntriesMemoryBytesMax (no spill, no partitions).
    public func prepareUpsertMany(isReplaced: (UnsafeRawBufferPointer) -> Bool, adding: Int? = nil,
                                  _ produce: ((UnsafeRawBufferPointer, UInt64, UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws -> PreparedSlotTable {
        let writer = adding.map { SlotTableWriter(sizedFor: count + $0, path: path, keyBytesMax: keyBytesMax, valueBytes: valueBytes,
                                                  contentVersion: contentVersion) }
            ?? SlotTableWriter(path: path, keyBytesMax: keyBytesMax, valueBytes: valueBytes, contentVersion: contentVersion)
        try forEachSlotBytes { _, p in
            if !isReplaced(Self.key(p)) { try writer.add(slot: p) }
        }
        try produce { key, position, value in try writer.add(key: key, appliedPosition: position, value: value) }
        return try writer.write(checkpoint: checkpoint, mark: checkpointMark)
    }

    /// prepareUpsertMany for entries with no value whose keys are all new (an import's
    /// idempotency keys): `produce` calls `add(key, position)` for each (`adding` of them, when known).
    public func prepareInsertMany(adding: Int? = nil, _ produce: ((UnsafeRawBufferPointer, UInt64) throws -> Void) throws -> Void) throws -> PreparedSlotTable {
        precondition(valueBytes == 0)
        let noValue = UnsafeRawBufferPointer(start: nil, count: 0)
        return try prepareUpsertMany(isReplaced: { _ in false }, adding: adding) { add in
            try withoutActuallyEscaping(add) { add in try produce { key, position in try add(key, position, noValue) } }
        }
    }

    /// prepareInsertMany for the keys of a KeyTable (8-byte keys, no value, as this table's must
    /// be): the table with them added, laid out in memory and written slot by slot, with nothing
    /// sorted. A KeyTable holds its keys laid out as a table of its capacity does; when this
    /// table holds entries, or the KeyTable's capacity is not the one their count gets, the
    /// union is laid out first in a KeyTable of the capacity it gets (one Robin Hood insert an
    /// entry), while that takes at most `memoryBytesMax`. Nil beyond that, or for a table of
    /// another shape: the caller then goes through prepareInsertMany(adding:), which works in
    /// bounded memory whatever the table's size.
    public func prepareInsertMany(laidOut keys: KeyTable, memoryBytesMax: Int = KeyTable.unionBytesMax) throws -> PreparedSlotTable? {
        guard keyBytesMax == 8, valueBytes == 0, keys.count > 0 else { return nil }
        var table = keys
        // This table's entries are found by its slots (its count can lag them after a crash).
        var holdsAny = false
        if count == 0 { try forEachSlotBytes { _, _ in holdsAny = true } }
        if count > 0 || holdsAny || keys.capacity != Self.capacityFor(count: keys.count) {
            guard KeyTable.bytes(forCount: count + keys.count) <= memoryBytesMax else { return nil }
            var union = KeyTable(minimumCapacity: count + keys.count)
            var foreign = false
            try forEachSlotBytes { _, p in
                let key = LE.u64(p, Self.slotHeaderBytes)
                guard Self.keyLength(p) == 8, key != 0 else { foreign = true; return }
                union.insert(key, position: Self.position(p))
            }
            guard !foreign else { return nil }
            keys.forEach { union.insert($0, position: $1) }
            // Made for at least as many entries as it got: grown, if at all, as a table would be.
            guard union.capacity == Self.capacityFor(count: union.count),
                  KeyTable.bytes(forCount: union.count) <= memoryBytesMax else { return nil }
            table = union
        }
        return try SlotTableWriter.write(laidOut: table, path: path, contentVersion: contentVersion, checkpoint: checkpoint, mark: checkpointMark)
    }

    /// Replaces this table's file with `prepared` (written from it by prepareUpsertMany).
    public func install(_ prepared: PreparedSlotTable) throws {
        precondition(prepared.path == path)
        let table = try Self.open(installing: prepared)
        swap(&fd, &table.fd)
        capacity = table.capacity
        count = table.count
    }

    /// The capacity a table of `count` entries has, whichever way it was built.
    static func capacityFor(count: Int) -> Int {
        var capacity = 1024
        while count * 100 > capacity * loadPercentMax { capacity *= 2 }
        return capacity
    }

    @inline(__always) static func keyLength(_ p: UnsafeRawPointer) -> Int { Int(LE.u16(p, 4)) }
    @inline(__always) static func position(_ p: UnsafeRawPointer) -> UInt64 { LE.u64(p, 8) }
    @inline(__always) static func key(_ p: UnsafeRawPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: p + slotHeaderBytes, count: keyLength(p))
    }
    @inline(__always) static func home(_ p: UnsafeRawPointer, capacity: Int) -> Int {
        Int(truncatingIfNeeded: hash(key(p))) & (capacity - 1)
    }

    /// Total order used to break ties between slots at the same probe distance.
    static func precedes(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer) -> Bool {
        let ka = key(a), kb = key(b)
        let common = min(ka.count, kb.count)
        let c = common == 0 ? 0 : memcmp(ka.baseAddress!, kb.baseAddress!, common)
        if c != 0 { return c < 0 }
        if ka.count != kb.count { return ka.count < kb.count }
        return position(a) < position(b)
    }

    /// Robin Hood insertion: an entry further from its home slot takes the place of one nearer
    /// to its own; equal distances are ordered by `precedes`. Layout depends only on the set.
    /// `scratch` holds two slots.
    static func robinHoodInsert<S: SlotStorage>(_ slot: UnsafeRawPointer, slotBytes: Int, capacity: Int, into storage: inout S,
                                                scratch: UnsafeMutableRawPointer) throws {
        let carried = scratch, resident = scratch + slotBytes
        copySlot(carried, slot, slotBytes)
        var index = home(carried, capacity: capacity)
        var distance = 0
        for _ in 0..<capacity {
            try storage.read(index, into: resident)
            if keyLength(resident) == 0 {
                try storage.write(index, from: carried)
                return
            }
            let residentDistance = (index - home(resident, capacity: capacity)) & (capacity - 1)
            if distance > residentDistance || (distance == residentDistance && precedes(carried, resident)) {
                try storage.write(index, from: carried)
                copySlot(carried, resident, slotBytes)
                distance = residentDistance
            }
            index = (index + 1) & (capacity - 1)
            distance += 1
        }
        // Only a header whose count lags far behind its slots gets here: treat it as damage (rebuilt).
        throw SlotTableError.damaged(path: "slot table", reason: "no free slot in \(capacity)")
    }

    /// Copies one slot. The ids view's 24-byte slots move as three words: bulk builds (replay,
    /// import) move millions, and a call to memmove for each costs more than the move.
    @inline(__always)
    static func copySlot(_ to: UnsafeMutableRawPointer, _ from: UnsafeRawPointer, _ slotBytes: Int) {
        guard slotBytes == 24 else { return to.copyMemory(from: from, byteCount: slotBytes) }
        to.storeBytes(of: from.load(as: UInt64.self), as: UInt64.self)
        to.storeBytes(of: from.load(fromByteOffset: 8, as: UInt64.self), toByteOffset: 8, as: UInt64.self)
        to.storeBytes(of: from.load(fromByteOffset: 16, as: UInt64.self), toByteOffset: 16, as: UInt64.self)
    }

    /// Fills `p` (slotBytes long) with a slot: zero padded, CRC over bytes 4..<slotBytes.
    static func encodeSlot(key: UnsafeRawBufferPointer, appliedPosition: UInt64, value: UnsafeRawBufferPointer, keyBytesMax: Int,
                           into p: UnsafeMutableRawPointer) {
        let slotBytes = slotHeaderBytes + keyBytesMax + value.count
        p.initializeMemory(as: UInt8.self, repeating: 0, count: slotBytes)
        LE.store(UInt16(key.count), p, 4)
        LE.store(appliedPosition, p, 8)
        if let k = key.baseAddress { (p + slotHeaderBytes).copyMemory(from: k, byteCount: key.count) }
        if let v = value.baseAddress { (p + slotHeaderBytes + keyBytesMax).copyMemory(from: v, byteCount: value.count) }
        LE.store(CRC32C.checksum(UnsafeRawBufferPointer(start: p + 4, count: slotBytes - 4)), p, 0)
    }

    static func header(slotBytes: Int, capacity: Int, count: Int, checkpoint: UInt64, keyBytesMax: Int, valueBytes: Int,
                       contentVersion: UInt32, checkpointMark: UInt64) -> [UInt8] {
        var h = magic
        h.appendLE(UInt32(1)); h.appendLE(UInt32(slotBytes)); h.appendLE(UInt64(capacity)); h.appendLE(UInt64(count))
        h.appendLE(checkpoint); h.appendLE(UInt32(keyBytesMax)); h.appendLE(UInt32(valueBytes)); h.appendLE(contentVersion)
        h.appendLE(checkpointMark)
        h.appendLE(CRC32C.checksum(h))
        return h
    }

    // MARK: Lookup

    static func hash(_ key: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in key { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        h ^= h >> 33
        h = h &* 0xff51_afd7_ed55_8ccd
        return h ^ (h >> 33)
    }

    private func readSlot(_ index: Int) throws -> [UInt8] {
        for attempt in 0..<3 {
            let bytes = try Self.wrap { try fd.read(count: slotBytes, at: Self.headerBytes + index * slotBytes) }
            guard bytes.count == slotBytes else { throw SlotTableError.damaged(path: path, reason: "slot \(index) is cut short") }
            let sound = bytes.withUnsafeBytes { raw -> Bool in
                let p = raw.baseAddress!
                if LE.u16(p, 4) == 0 { return raw.allSatisfy { $0 == 0 } }
                return LE.u32(p, 0) == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[4...]))
            }
            if sound { return bytes }
            // A concurrent writer may be mid-pwrite of this slot: look again before calling it damage.
            if attempt < 2 { usleep(1000) }
        }
        throw SlotTableError.damaged(path: path, reason: "slot \(index) fails its CRC")
    }

    /// Visits the slots holding `key` in probe order; the visitor returns false to stop.
    public func forEachSlot(withKey key: [UInt8], _ visit: (Slot) throws -> Bool) throws {
        try key.withUnsafeBytes { k in try probe(k) { index, p in try visit(slot(index, p)) } }
    }

    /// The applied position of every slot whose key is `key`, making no Slot (an import asks
    /// this once per line that carries an idempotency key).
    public func forEachPosition(withKey key: UnsafeRawBufferPointer, _ visit: (UInt64) throws -> Void) throws {
        try probe(key) { _, p in try visit(Self.position(p)); return true }
    }

    /// Visits each slot holding `key` on its probe path, reading four slots per pread, until
    /// the key cannot be further on or `visit` returns false. A slot whose CRC fails is read
    /// again (a writer may be mid-pwrite), then reported as damage.
    private func probe(_ key: UnsafeRawBufferPointer, _ visit: (Int, UnsafeRawPointer) throws -> Bool) throws {
        precondition(!key.isEmpty && key.count <= keyBytesMax)
        let group = 4
        try withUnsafeTemporaryAllocation(byteCount: group * slotBytes, alignment: 8) { buffer in
            var index = Int(truncatingIfNeeded: Self.hash(key)) & (capacity - 1)
            var distance = 0
            while distance < capacity {
                let n = min(group, capacity - index)
                let got = try Self.wrap { try fd.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<(n * slotBytes)]), at: Self.headerBytes + index * slotBytes) }
                guard got == n * slotBytes else { throw SlotTableError.damaged(path: path, reason: "file is cut short") }
                for i in 0..<n {
                    let p = UnsafeRawPointer(buffer.baseAddress! + i * slotBytes)
                    let bytes = UnsafeRawBufferPointer(start: p, count: slotBytes)
                    let sound = Self.keyLength(p) == 0 ? bytes.allSatisfy { $0 == 0 }
                        : LE.u32(p, 0) == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[4...]))
                    let reread = sound ? [] : try readSlot(index)
                    let stop = try reread.withUnsafeBytes { raw -> Bool in
                        let p = sound ? p : raw.baseAddress!
                        let keyLength = Self.keyLength(p)
                        if keyLength == 0 { return true }
                        // Robin Hood invariant: once residents are nearer their home than we are to ours, the key is absent.
                        if (index - Self.home(p, capacity: capacity)) & (capacity - 1) < distance { return true }
                        if keyLength == key.count && memcmp(p + Self.slotHeaderBytes, key.baseAddress!, key.count) == 0 {
                            return try !visit(index, p)
                        }
                        return false
                    }
                    if stop { return }
                    index = (index + 1) & (capacity - 1)
                    distance += 1
                }
            }
        }
    }

    public func find(_ key: [UInt8]) throws -> Slot? {
        var found: Slot?
        try forEachSlot(withKey: key) { found = $0; return false }
        return found
    }

    private func slot(_ index: Int, _ p: UnsafeRawPointer) -> Slot {
        Slot(index: index, appliedPosition: Self.position(p), key: Array(Self.key(p)),
             value: Array(UnsafeRawBufferPointer(start: p + Self.slotHeaderBytes + keyBytesMax, count: valueBytes)))
    }

    /// Every used slot, in slot order.
    public func forEachSlot(_ visit: (Slot) throws -> Void) throws {
        try forEachSlotBytes { index, p in try visit(slot(index, p)) }
    }

    /// Every used slot's bytes (CRC-checked), in slot order; valid only during the call.
    private func forEachSlotBytes(_ visit: (Int, UnsafeRawPointer) throws -> Void) throws {
        let chunkSlots = max(1, (1 << 20) / slotBytes)
        var buffer = [UInt8](repeating: 0, count: chunkSlots * slotBytes)
        var first = 0
        while first < capacity {
            let n = min(chunkSlots, capacity - first)
            let got = try buffer.withUnsafeMutableBytes { raw in
                try Self.wrap { try fd.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<(n * slotBytes)]), at: Self.headerBytes + first * slotBytes) }
            }
            guard got == n * slotBytes else { throw SlotTableError.damaged(path: path, reason: "file is cut short") }
            for i in 0..<n {
                let reread: [UInt8]? = try buffer.withUnsafeBytes { raw in
                    let p = raw.baseAddress! + i * slotBytes
                    if Self.keyLength(p) == 0 { return nil }
                    if LE.u32(p, 0) == CRC32C.checksum(UnsafeRawBufferPointer(start: p + 4, count: slotBytes - 4)) {
                        try visit(first + i, p)
                        return nil
                    }
                    return try readSlot(first + i)
                }
                if let reread { try reread.withUnsafeBytes { try visit(first + i, $0.baseAddress!) } }
            }
            first += n
        }
    }

    // MARK: Writing (the caller holds the store's writer lock)

    private func withSlot<T>(key: [UInt8], appliedPosition: UInt64, value: [UInt8], _ body: (UnsafeRawPointer) throws -> T) rethrows -> T {
        precondition(value.count == valueBytes && !key.isEmpty && key.count <= keyBytesMax)
        let p = UnsafeMutableRawPointer.allocate(byteCount: slotBytes, alignment: 8)
        defer { p.deallocate() }
        key.withUnsafeBytes { k in value.withUnsafeBytes { v in
            Self.encodeSlot(key: k, appliedPosition: appliedPosition, value: v, keyBytesMax: keyBytesMax, into: p)
        } }
        return try body(p)
    }

    /// Writes `value` into the slot at `index` (found by a lookup).
    public func overwrite(_ index: Int, key: [UInt8], appliedPosition: UInt64, value: [UInt8]) throws {
        try withSlot(key: key, appliedPosition: appliedPosition, value: value) { p in
            try writeRawSlot(index, from: p)
        }
    }

    /// Adds a slot for `key` (keys may repeat: callers decide what a repeat means).
    public func insert(key: [UInt8], appliedPosition: UInt64, value: [UInt8]) throws {
        if (count + 1) * 100 > capacity * Self.loadPercentMax { try grow() }
        var storage = FileSlots(table: self)
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: 2 * slotBytes, alignment: 8)
        defer { scratch.deallocate() }
        try withSlot(key: key, appliedPosition: appliedPosition, value: value) { p in
            try Self.robinHoodInsert(p, slotBytes: slotBytes, capacity: capacity, into: &storage, scratch: scratch)
        }
        count += 1
        try writeHeader()
    }

    fileprivate func readRawSlot(_ index: Int, into p: UnsafeMutableRawPointer) throws {
        let bytes = try readSlot(index)
        bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: slotBytes) }
    }

    fileprivate func writeRawSlot(_ index: Int, from p: UnsafeRawPointer) throws {
        try Self.wrap { try fd.writeAll(UnsafeRawBufferPointer(start: p, count: slotBytes), at: Self.headerBytes + index * slotBytes) }
    }

    /// Makes every slot write so far durable, then records `position` as the checkpoint, with
    /// `mark` (nil: the mark stays).
    public func checkpoint(through position: UInt64, mark: UInt64? = nil) throws {
        try Self.wrap { try fd.syncData() }
        checkpoint = position
        if let mark { checkpointMark = mark }
        try writeHeader()
    }

    private func writeHeader() throws {
        let h = Self.header(slotBytes: slotBytes, capacity: capacity, count: count, checkpoint: checkpoint,
                            keyBytesMax: keyBytesMax, valueBytes: valueBytes, contentVersion: contentVersion, checkpointMark: checkpointMark)
        try Self.wrap { try fd.writeAll(h, at: 0) }
    }

    /// Doubles the capacity: writes every slot into a new file and renames it into place.
    /// The new file carries the old checkpoint: the old one's slots were durable through it,
    /// and this file is fsynced before it replaces the old one.
    private func grow() throws {
        let writer = SlotTableWriter(path: path, keyBytesMax: keyBytesMax, valueBytes: valueBytes, contentVersion: contentVersion)
        try forEachSlotBytes { try writer.add(slot: $1) }
        let table = try Self.open(installing: try writer.write(checkpoint: checkpoint, mark: checkpointMark,
                                                                             minimumCapacity: capacity * 2))
        swap(&fd, &table.fd)
        capacity = table.capacity
        count = table.count
    }
}

/// Where Robin Hood insertion reads and writes slots (the file; tests use memory).
protocol SlotStorage {
    func read(_ index: Int, into p: UnsafeMutableRawPointer) throws
    mutating func write(_ index: Int, from p: UnsafeRawPointer) throws
}

struct FileSlots: SlotStorage {
    let table: SlotTable
    func read(_ index: Int, into p: UnsafeMutableRawPointer) throws { try table.readRawSlot(index, into: p) }
    mutating func write(_ index: Int, from p: UnsafeRawPointer) throws { try table.writeRawSlot(index, from: p) }
}
