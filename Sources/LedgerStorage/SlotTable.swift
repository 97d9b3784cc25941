// A file-backed open-addressing hash table of fixed-size slots keyed by bytes:
// the storage under the views (accounts by name, idempotency keys). Knows bytes,
// not money. Each slot carries its own CRC and the log position it reflects, so
// re-applying an event is a no-op and a torn slot is detected, never believed.
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
                let version = LE.u32(p, 8), slotBytes = Int(LE.u32(p, 12)), capacity = Int(LE.u64(p, 16))
                guard version == 1, Int(LE.u32(p, 40)) == keyBytesMax, Int(LE.u32(p, 44)) == valueBytes,
                      slotBytes == slotHeaderBytes + keyBytesMax + valueBytes, capacity > 0, capacity & (capacity - 1) == 0 else {
                    throw SlotTableError.damaged(path: path, reason: "unexpected layout")
                }
                let size = try wrap { try fd.size() }
                guard size == headerBytes + capacity * slotBytes else {
                    throw SlotTableError.damaged(path: path, reason: "size \(size) does not match capacity \(capacity)")
                }
                return SlotTable(path: path, fd: fd, keyBytesMax: keyBytesMax, valueBytes: valueBytes, capacity: capacity,
                                 count: Int(LE.u64(p, 24)), checkpoint: LE.u64(p, 32))
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
        var capacity = 1024
        while entries.count * 100 > capacity * loadPercentMax / 2 { capacity *= 2 }
        let slotBytes = slotHeaderBytes + keyBytesMax + valueBytes
        var image = header(slotBytes: slotBytes, capacity: capacity, count: entries.count, checkpoint: checkpoint,
                           keyBytesMax: keyBytesMax, valueBytes: valueBytes)
        image += [UInt8](repeating: 0, count: capacity * slotBytes)
        image.withUnsafeMutableBytes { raw in
            let base = raw.baseAddress! + headerBytes
            for e in entries {
                precondition(!e.key.isEmpty && e.key.count <= keyBytesMax && e.value.count == valueBytes)
                var index = Int(truncatingIfNeeded: e.key.withUnsafeBytes { hash($0) }) & (capacity - 1)
                while LE.u16(base + index * slotBytes, 4) != 0 { index = (index + 1) & (capacity - 1) }
                let p = base + index * slotBytes
                LE.store(UInt16(e.key.count), p, 4)
                LE.store(e.appliedPosition, p, 8)
                e.key.withUnsafeBytes { p.advanced(by: slotHeaderBytes).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                if valueBytes > 0 {
                    e.value.withUnsafeBytes { p.advanced(by: slotHeaderBytes + keyBytesMax).copyMemory(from: $0.baseAddress!, byteCount: valueBytes) }
                }
                LE.store(CRC32C.checksum(UnsafeRawBufferPointer(start: p + 4, count: slotBytes - 4)), p, 0)
            }
        }
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
        for _ in 0..<capacity {
            let bytes = try readSlot(index)
            let keyLength = bytes.withUnsafeBytes { Int(LE.u16($0.baseAddress!, 4)) }
            if keyLength == 0 { return }
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
        var s = [UInt8](repeating: 0, count: 4)
        s.appendLE(UInt16(key.count)); s.appendLE(UInt16(0)); s.appendLE(appliedPosition)
        s += key
        s += [UInt8](repeating: 0, count: keyBytesMax - key.count)
        s += value
        let crc = s.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[4...])) }
        s.withUnsafeMutableBytes { LE.store(crc, $0.baseAddress!, 0) }
        return s
    }

    /// Writes `value` into the slot at `index` (found by a lookup).
    public func overwrite(_ index: Int, key: [UInt8], appliedPosition: UInt64, value: [UInt8]) throws {
        try Self.wrap { try fd.writeAll(encodeSlot(key: key, appliedPosition: appliedPosition, value: value), at: Self.headerBytes + index * slotBytes) }
    }

    /// Adds a slot for `key` (keys may repeat: callers decide what a repeat means).
    public func insert(key: [UInt8], appliedPosition: UInt64, value: [UInt8]) throws {
        if (count + 1) * 100 > capacity * Self.loadPercentMax { try grow() }
        var index = Int(truncatingIfNeeded: key.withUnsafeBytes { Self.hash($0) }) & (capacity - 1)
        while true {
            let bytes = try readSlot(index)
            if bytes.withUnsafeBytes({ LE.u16($0.baseAddress!, 4) }) == 0 { break }
            index = (index + 1) & (capacity - 1)
        }
        try overwrite(index, key: key, appliedPosition: appliedPosition, value: value)
        count += 1
        try writeHeader()
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
        var image = [UInt8](repeating: 0, count: newCapacity * slotBytes)
        for s in slots {
            var index = Int(truncatingIfNeeded: s.key.withUnsafeBytes { Self.hash($0) }) & (newCapacity - 1)
            while image.withUnsafeBytes({ LE.u16($0.baseAddress! + index * slotBytes, 4) }) != 0 { index = (index + 1) & (newCapacity - 1) }
            let encoded = encodeSlot(key: s.key, appliedPosition: s.appliedPosition, value: s.value)
            image.replaceSubrange((index * slotBytes)..<((index + 1) * slotBytes), with: encoded)
        }
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
