// A file-backed open-addressing hash table of fixed-size slots keyed by bytes:
// the storage under the views (accounts by name, idempotency keys). Knows bytes,
// not money. Each slot carries its own CRC and the log position it reflects, so
// re-applying an event is a no-op and a torn slot is detected, never believed.
// Robin Hood linear probing with ties broken by (key, position) makes the layout
// a function of the set of entries alone: a table built incrementally and one
// rebuilt from scratch are byte-identical.
//
// header (64 bytes): "LEDGRTBL", u32 version (1), u32 slotBytes, u64 capacity (power of 2),
//   u64 count, u64 checkpoint, u32 keyBytesMax, u32 valueBytes, 12 bytes reserved, u32 crc32c(0..<60)
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
    public let slotBytes: Int
    public private(set) var capacity: Int
    public private(set) var count: Int
    /// Every event at or before this position is reflected durably in the table.
    public private(set) var checkpoint: UInt64
    private var fd: FileDescriptor

    public struct Slot {
        public let index: Int
        public let appliedPosition: UInt64
        public let key: [UInt8]
        public let value: [UInt8]
    }

    private init(path: String, fd: FileDescriptor, keyBytesMax: Int, valueBytes: Int, capacity: Int, count: Int, checkpoint: UInt64) {
        self.path = path
        self.fd = fd
        self.keyBytesMax = keyBytesMax
        self.valueBytes = valueBytes
        slotBytes = Self.slotHeaderBytes + keyBytesMax + valueBytes
        self.capacity = capacity
        self.count = count
        self.checkpoint = checkpoint
    }

    deinit { fd.close() }

    static func wrap<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as SystemError { throw SlotTableError.io(e) }
    }

    /// Opens an existing table; nil if the file does not exist.
    public static func open(path: String, keyBytesMax: Int, valueBytes: Int, writable: Bool) throws -> SlotTable? {
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
                let size = try wrap { try fd.size() }
                guard capacity <= size / slotBytes, size == headerBytes + capacity * slotBytes else {
                    throw SlotTableError.damaged(path: path, reason: "size \(size) does not match capacity \(capacity)")
                }
                return SlotTable(path: path, fd: fd, keyBytesMax: keyBytesMax, valueBytes: valueBytes, capacity: capacity,
                                 count: Int(truncatingIfNeeded: LE.u64(p, 24)), checkpoint: LE.u64(p, 32))
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
    /// the whole image is built in memory, written once, fsynced and renamed into place.
    public static func create(path: String, keyBytesMax: Int, valueBytes: Int, entries: [Entry] = [], checkpoint: UInt64 = 0) throws -> SlotTable {
        let capacity = capacityFor(count: entries.count)
        let slotBytes = slotHeaderBytes + keyBytesMax + valueBytes
        var image = header(slotBytes: slotBytes, capacity: capacity, count: entries.count, checkpoint: checkpoint,
                           keyBytesMax: keyBytesMax, valueBytes: valueBytes)
        var slots = MemorySlots(bytes: [UInt8](repeating: 0, count: capacity * slotBytes), slotBytes: slotBytes)
        for e in entries {
            precondition(!e.key.isEmpty && e.key.count <= keyBytesMax && e.value.count == valueBytes)
            try robinHoodInsert(encodeSlot(key: e.key, appliedPosition: e.appliedPosition, value: e.value, keyBytesMax: keyBytesMax),
                                capacity: capacity, into: &slots)
        }
        image += slots.bytes
        let temp = path + ".new"
        try wrap {
            try FileSystem.makeDirectory(FileSystem.parentDirectory(of: path))
            let fd = try FileDescriptor.open(temp, O_RDWR | O_CREAT | O_TRUNC)
            defer { fd.close() }
            try fd.writeAll(image, at: 0)
            try fd.syncData()
            try FileSystem.rename(temp, path)
        }
        guard let table = try open(path: path, keyBytesMax: keyBytesMax, valueBytes: valueBytes, writable: true) else {
            throw SlotTableError.damaged(path: path, reason: "vanished after create")
        }
        return table
    }

    /// The capacity a table of `count` entries has, whichever way it was built.
    static func capacityFor(count: Int) -> Int {
        var capacity = 1024
        while count * 100 > capacity * loadPercentMax { capacity *= 2 }
        return capacity
    }

    static func keyLength(_ slot: [UInt8]) -> Int { Int(slot[4]) | Int(slot[5]) << 8 }
    static func position(_ slot: [UInt8]) -> UInt64 { slot.withUnsafeBytes { LE.u64($0.baseAddress!, 8) } }
    static func key(_ slot: [UInt8]) -> ArraySlice<UInt8> { slot[slotHeaderBytes..<(slotHeaderBytes + keyLength(slot))] }
    static func home(_ slot: [UInt8], capacity: Int) -> Int {
        Int(truncatingIfNeeded: Array(key(slot)).withUnsafeBytes { hash($0) }) & (capacity - 1)
    }

    /// Total order used to break ties between slots at the same probe distance.
    static func precedes(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        let ka = key(a), kb = key(b)
        if ka != kb { return ka.lexicographicallyPrecedes(kb) }
        return position(a) < position(b)
    }

    /// Robin Hood insertion: an entry further from its home slot takes the place of one nearer
    /// to its own; equal distances are ordered by `precedes`. Layout depends only on the set.
    static func robinHoodInsert<S: SlotStorage>(_ slot: [UInt8], capacity: Int, into storage: inout S) throws {
        var carried = slot
        var index = home(carried, capacity: capacity)
        var distance = 0
        for _ in 0..<capacity {
            let resident = try storage.read(index)
            if keyLength(resident) == 0 {
                try storage.write(index, carried)
                return
            }
            let residentDistance = (index - home(resident, capacity: capacity)) & (capacity - 1)
            if distance > residentDistance || (distance == residentDistance && precedes(carried, resident)) {
                try storage.write(index, carried)
                carried = resident
                distance = residentDistance
            }
            index = (index + 1) & (capacity - 1)
            distance += 1
        }
        // Only a header whose count lags far behind its slots gets here: treat it as damage (rebuilt).
        throw SlotTableError.damaged(path: "slot table", reason: "no free slot in \(capacity)")
    }

    static func encodeSlot(key: [UInt8], appliedPosition: UInt64, value: [UInt8], keyBytesMax: Int) -> [UInt8] {
        var s = [UInt8](repeating: 0, count: 4)
        s.appendLE(UInt16(key.count)); s.appendLE(UInt16(0)); s.appendLE(appliedPosition)
        s += key
        s += [UInt8](repeating: 0, count: keyBytesMax - key.count)
        s += value
        let crc = s.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[4...])) }
        s.withUnsafeMutableBytes { LE.store(crc, $0.baseAddress!, 0) }
        return s
    }

    static func header(slotBytes: Int, capacity: Int, count: Int, checkpoint: UInt64, keyBytesMax: Int, valueBytes: Int) -> [UInt8] {
        var h = magic
        h.appendLE(UInt32(1)); h.appendLE(UInt32(slotBytes)); h.appendLE(UInt64(capacity)); h.appendLE(UInt64(count))
        h.appendLE(checkpoint); h.appendLE(UInt32(keyBytesMax)); h.appendLE(UInt32(valueBytes))
        h += [UInt8](repeating: 0, count: 12)
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
        precondition(!key.isEmpty && key.count <= keyBytesMax)
        var index = Int(truncatingIfNeeded: key.withUnsafeBytes { Self.hash($0) }) & (capacity - 1)
        for distance in 0..<capacity {
            let bytes = try readSlot(index)
            let keyLength = Self.keyLength(bytes)
            if keyLength == 0 { return }
            // Robin Hood invariant: once residents are nearer their home than we are to ours, the key is absent.
            if (index - Self.home(bytes, capacity: capacity)) & (capacity - 1) < distance { return }
            if keyLength == key.count && bytes[Self.slotHeaderBytes..<(Self.slotHeaderBytes + keyLength)].elementsEqual(key) {
                if try !visit(slot(index, bytes)) { return }
            }
            index = (index + 1) & (capacity - 1)
        }
    }

    public func find(_ key: [UInt8]) throws -> Slot? {
        var found: Slot?
        try forEachSlot(withKey: key) { found = $0; return false }
        return found
    }

    private func slot(_ index: Int, _ bytes: [UInt8]) -> Slot {
        bytes.withUnsafeBytes { raw in
            let p = raw.baseAddress!
            let keyLength = Int(LE.u16(p, 4))
            return Slot(index: index, appliedPosition: LE.u64(p, 8),
                        key: Array(bytes[Self.slotHeaderBytes..<(Self.slotHeaderBytes + keyLength)]),
                        value: Array(bytes[(Self.slotHeaderBytes + keyBytesMax)...]))
        }
    }

    /// Every used slot, in slot order.
    public func forEachSlot(_ visit: (Slot) throws -> Void) throws {
        let chunkSlots = max(1, (1 << 20) / slotBytes)
        var first = 0
        while first < capacity {
            let n = min(chunkSlots, capacity - first)
            let bytes = try Self.wrap { try fd.read(count: n * slotBytes, at: Self.headerBytes + first * slotBytes) }
            guard bytes.count == n * slotBytes else { throw SlotTableError.damaged(path: path, reason: "file is cut short") }
            for i in 0..<n {
                let s = Array(bytes[(i * slotBytes)..<((i + 1) * slotBytes)])
                let keyLength = s.withUnsafeBytes { Int(LE.u16($0.baseAddress!, 4)) }
                if keyLength == 0 { continue }
                let sound = s.withUnsafeBytes { LE.u32($0.baseAddress!, 0) == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[4...])) }
                let slotBytes = sound ? s : try readSlot(first + i)
                try visit(slot(first + i, slotBytes))
            }
            first += n
        }
    }

    // MARK: Writing (the caller holds the store's writer lock)

    private func encodeSlot(key: [UInt8], appliedPosition: UInt64, value: [UInt8]) -> [UInt8] {
        precondition(value.count == valueBytes && !key.isEmpty && key.count <= keyBytesMax)
        return Self.encodeSlot(key: key, appliedPosition: appliedPosition, value: value, keyBytesMax: keyBytesMax)
    }

    /// Writes `value` into the slot at `index` (found by a lookup).
    public func overwrite(_ index: Int, key: [UInt8], appliedPosition: UInt64, value: [UInt8]) throws {
        try Self.wrap { try fd.writeAll(encodeSlot(key: key, appliedPosition: appliedPosition, value: value), at: Self.headerBytes + index * slotBytes) }
    }

    /// Adds a slot for `key` (keys may repeat: callers decide what a repeat means).
    public func insert(key: [UInt8], appliedPosition: UInt64, value: [UInt8]) throws {
        if (count + 1) * 100 > capacity * Self.loadPercentMax { try grow() }
        var storage = FileSlots(table: self)
        try Self.robinHoodInsert(encodeSlot(key: key, appliedPosition: appliedPosition, value: value), capacity: capacity, into: &storage)
        count += 1
        try writeHeader()
    }

    fileprivate func readRawSlot(_ index: Int) throws -> [UInt8] { try readSlot(index) }

    fileprivate func writeRawSlot(_ index: Int, _ bytes: [UInt8]) throws {
        try Self.wrap { try fd.writeAll(bytes, at: Self.headerBytes + index * slotBytes) }
    }

    /// Makes every slot write so far durable, then records `position` as the checkpoint.
    public func checkpoint(through position: UInt64) throws {
        try Self.wrap { try fd.syncData() }
        checkpoint = position
        try writeHeader()
    }

    private func writeHeader() throws {
        let h = Self.header(slotBytes: slotBytes, capacity: capacity, count: count, checkpoint: checkpoint,
                            keyBytesMax: keyBytesMax, valueBytes: valueBytes)
        try Self.wrap { try fd.writeAll(h, at: 0) }
    }

    /// Doubles the capacity: rehashes every slot into a new file and renames it into place.
    private func grow() throws {
        var slots: [Slot] = []
        slots.reserveCapacity(count)
        try forEachSlot { slots.append($0) }
        let newCapacity = capacity * 2
        var memory = MemorySlots(bytes: [UInt8](repeating: 0, count: newCapacity * slotBytes), slotBytes: slotBytes)
        for s in slots {
            try Self.robinHoodInsert(encodeSlot(key: s.key, appliedPosition: s.appliedPosition, value: s.value), capacity: newCapacity, into: &memory)
        }
        let image = memory.bytes
        let temp = path + ".new"
        // The new file carries the old checkpoint: the old one's slots were durable through it,
        // and this file is fsynced before it replaces the old one.
        let h = Self.header(slotBytes: slotBytes, capacity: newCapacity, count: slots.count, checkpoint: checkpoint,
                            keyBytesMax: keyBytesMax, valueBytes: valueBytes)
        let newFD = try Self.wrap { () -> FileDescriptor in
            let fd = try FileDescriptor.open(temp, O_RDWR | O_CREAT | O_TRUNC)
            try fd.writeAll(h + image, at: 0)
            try fd.syncData()
            try FileSystem.rename(temp, path)
            return fd
        }
        fd.close()
        fd = newFD
        capacity = newCapacity
        count = slots.count
    }
}

/// Where Robin Hood insertion reads and writes slots: the file, or an image in memory.
protocol SlotStorage {
    func read(_ index: Int) throws -> [UInt8]
    mutating func write(_ index: Int, _ bytes: [UInt8]) throws
}

struct MemorySlots: SlotStorage {
    var bytes: [UInt8]
    let slotBytes: Int

    func read(_ index: Int) throws -> [UInt8] { Array(bytes[(index * slotBytes)..<((index + 1) * slotBytes)]) }
    mutating func write(_ index: Int, _ slot: [UInt8]) throws {
        bytes.replaceSubrange((index * slotBytes)..<((index + 1) * slotBytes), with: slot)
    }
}

struct FileSlots: SlotStorage {
    let table: SlotTable
    func read(_ index: Int) throws -> [UInt8] { try table.readRawSlot(index) }
    mutating func write(_ index: Int, _ bytes: [UInt8]) throws { try table.writeRawSlot(index, bytes) }
}
