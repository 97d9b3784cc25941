// Writes a whole slot table from entries given in any order, in bounded memory: the
// bulk builds (replay, import, a table that grows) go through here. Entries wait in a
// buffer and, beyond it, in an unlinked spill file. At the end, when their number and so
// the capacity are known, they are sorted by home slot, one range of homes at a time
// (a partition that fits the buffer), and written in slot order.
//
// Slot order is the Robin Hood layout of the set, the one single inserts give: sorted by
// home (ties by SlotTable.precedes), each entry sits at max(home, the previous one's slot
// + 1); entries that run past the last slot continue at slot 0, ahead of the entries whose
// homes are there, which move up as far as the first gap.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

public final class SlotTableWriter: @unchecked Sendable {
    /// Memory for entries before they spill: also the size of one partition when sorting.
    public static let defaultMemoryBytes = 4 << 20
    /// The most memory a writer told how many entries it gets takes to hold them all (placed at
    /// once, in place of a spill file written and read back twice): 32 MiB, 1.4 M 24-byte
    /// slots (an import's own keys already take up to 32 MiB of memory; beyond, the writer
    /// spills as before).
    public static let knownEntriesMemoryBytesMax = 32 << 20

    public let path: String
    public let keyBytesMax: Int
    public let valueBytes: Int
    public let contentVersion: UInt32
    let slotBytes: Int
    // The counters touched for every entry: no run-time exclusivity check (two per entry, for
    // a million entries, on the thread that ends an import); only this class's methods touch them.
    @exclusivity(unchecked) public private(set) var count = 0
    /// Spill files are made (and unlinked at once) here: the table's directory.
    private let directory: String
    let bufferSlots: Int
    private let memory: ZeroedMemory
    private var buffer: UnsafeMutableRawPointer { memory.base }
    @exclusivity(unchecked) private var buffered = 0
    private var spill: FileDescriptor?
    private var spilledSlots = 0

    /// `entriesExpected`: how many entries will be added, when known: no more memory than they
    /// need is taken, and its pages are made at once (fresh memory costs a page fault a page);
    /// unknown, the buffer's pages are made as entries fill them.
    public init(path: String, keyBytesMax: Int, valueBytes: Int, contentVersion: UInt32 = 0,
                memoryBytes: Int = SlotTableWriter.defaultMemoryBytes, entriesExpected: Int? = nil) {
        self.path = path
        self.keyBytesMax = keyBytesMax
        self.valueBytes = valueBytes
        self.contentVersion = contentVersion
        slotBytes = SlotTable.slotHeaderBytes + keyBytesMax + valueBytes
        directory = FileSystem.parentDirectory(of: path)
        // At least two slots; at most 2^24 (a sort key holds an entry's index in 24 bits).
        bufferSlots = min(max(2, min(memoryBytes / slotBytes, entriesExpected ?? .max)), 1 << 24)
        memory = ZeroedMemory(byteCount: bufferSlots * slotBytes, populated: entriesExpected != nil)
    }

    /// A writer for `entries` entries: memory for all of them, up to knownEntriesMemoryBytesMax.
    public convenience init(sizedFor entries: Int, path: String, keyBytesMax: Int, valueBytes: Int, contentVersion: UInt32 = 0) {
        let slotBytes = SlotTable.slotHeaderBytes + keyBytesMax + valueBytes
        let memoryBytes = min(Self.knownEntriesMemoryBytesMax, max(Self.defaultMemoryBytes, max(1, entries) * slotBytes))
        self.init(path: path, keyBytesMax: keyBytesMax, valueBytes: valueBytes, contentVersion: contentVersion,
                  memoryBytes: memoryBytes, entriesExpected: max(1, entries))
    }

    deinit { spill?.close() }

    /// Adds one entry (keys may repeat; each is a slot of its own).
    public func add(key: UnsafeRawBufferPointer, appliedPosition: UInt64, value: UnsafeRawBufferPointer) throws {
        precondition(!key.isEmpty && key.count <= keyBytesMax && value.count == valueBytes)
        if buffered == bufferSlots { try spillBuffer() }
        SlotTable.encodeSlot(key: key, appliedPosition: appliedPosition, value: value, keyBytesMax: keyBytesMax,
                             into: buffer + buffered * slotBytes)
        buffered += 1
        count += 1
    }

    /// Adds an encoded slot (copied from another table of the same shape).
    func add(slot p: UnsafeRawPointer) throws {
        if buffered == bufferSlots { try spillBuffer() }
        SlotTable.copySlot(buffer + buffered * slotBytes, p, slotBytes)
        buffered += 1
        count += 1
    }

    private func spillBuffer() throws {
        let fd = try spill ?? SlotTable.wrap { try FileDescriptor.openUnlinked(in: directory, name: ".slots-spill") }
        spill = fd
        try SlotTable.wrap { try fd.writeAll(UnsafeRawBufferPointer(start: buffer, count: buffered * slotBytes), at: spilledSlots * slotBytes) }
        spilledSlots += buffered
        buffered = 0
    }

    /// Writes the table at `path`.new (complete and fsynced, not yet in place) with the capacity
    /// its entries get (at least `minimumCapacity`) and `checkpoint` in its header.
    /// `mark`: the owner's checkpoint mark (SlotTable.checkpointMark).
    public func write(checkpoint: UInt64, mark: UInt64 = 0, minimumCapacity: Int = 0) throws -> PreparedSlotTable {
        let capacity = max(SlotTable.capacityFor(count: count), minimumCapacity)
        let prepared = try Self.writeTable(path: path, keyBytesMax: keyBytesMax, valueBytes: valueBytes, contentVersion: contentVersion,
                                           capacity: capacity, count: count, checkpoint: checkpoint, mark: mark) { out in
            if spill == nil {
                try place(buffer, buffered, into: &out)
            } else {
                try spillBuffer()
                try placePartitioned(capacity: capacity, into: &out)
            }
        }
        spill?.close()
        spill = nil
        spilledSlots = 0
        return prepared
    }

    /// Writes a table at `path`.new: its header, then the slots `place` puts in the run in
    /// slot order (gaps empty, entries past the last slot wrapped to the first), fsynced. A
    /// write that fails leaves no half-written file behind.
    fileprivate static func writeTable(path: String, keyBytesMax: Int, valueBytes: Int, contentVersion: UInt32, capacity: Int,
                                       count: Int, checkpoint: UInt64, mark: UInt64,
                                       _ place: (inout SlotRun) throws -> Void) throws -> PreparedSlotTable {
        let slotBytes = SlotTable.slotHeaderBytes + keyBytesMax + valueBytes
        let temp = path + ".new"
        do {
            try SlotTable.wrap {
                try FileSystem.makeDirectory(FileSystem.parentDirectory(of: path))
                let fd = try FileDescriptor.open(temp, O_RDWR | O_CREAT | O_TRUNC)
                defer { fd.close() }
                try fd.writeAll(SlotTable.header(slotBytes: slotBytes, capacity: capacity, count: count, checkpoint: checkpoint,
                                                 keyBytesMax: keyBytesMax, valueBytes: valueBytes, contentVersion: contentVersion,
                                                 checkpointMark: mark), at: 0)
                var out = SlotRun(fd: fd, slotBytes: slotBytes, capacity: capacity)
                try place(&out)
                try out.finish()
                try out.wrapAround()
                try fd.syncData()
            }
        } catch {
            try? FileSystem.remove(temp)
            throw error
        }
        return PreparedSlotTable(temp: temp, path: path, keyBytesMax: keyBytesMax, valueBytes: valueBytes, contentVersion: contentVersion)
    }

    /// Writes the table and puts it in place (rename), then opens it.
    public func finish(checkpoint: UInt64, mark: UInt64 = 0) throws -> SlotTable {
        try SlotTable.open(installing: try write(checkpoint: checkpoint, mark: mark))
    }

    /// Writes the table and puts it in place, for a caller that does not use it after.
    public func install(checkpoint: UInt64, mark: UInt64 = 0) throws {
        try write(checkpoint: checkpoint, mark: mark).install()
    }

    /// How many entries ahead `place` starts loading a slot.
    static let prefetchSlots = 8

    /// At most this many partition files are open at once.
    static let partitionsMax = 256

    /// Slots in a partition, at most, when there are few enough: sorted and placed in home
    /// order, a partition's slots (384 KiB of 24-byte ones) stay in a core's L2 cache.
    static let partitionSlotsTarget = 16 << 10

    /// The spilled entries, split by the top bits of their home into files of at most
    /// partitionSlotsTarget slots or half the buffer (fewer, larger ones past partitionsMax),
    /// then sorted and placed one partition at a time, in home order.
    private func placePartitioned(capacity: Int, into out: inout SlotRun) throws {
        let slotsPerPartition = min(bufferSlots / 2, Self.partitionSlotsTarget)
        var partitions = 1
        while partitions < min(capacity, Self.partitionsMax) && count > partitions * slotsPerPartition { partitions *= 2 }
        let shift = capacity.trailingZeroBitCount - partitions.trailingZeroBitCount
        var files: [PartitionFile] = []
        defer { for f in files { f.close() } }
        for _ in 0..<partitions { files.append(PartitionFile(fd: try FileDescriptor.openUnlinked(in: directory, name: ".slots-part"), slotBytes: slotBytes)) }
        guard let spill else { return }
        var done = 0
        while done < spilledSlots {
            let n = min(bufferSlots, spilledSlots - done)
            let got = try spill.read(into: UnsafeMutableRawBufferPointer(start: buffer, count: n * slotBytes), at: done * slotBytes)
            guard got == n * slotBytes else { throw SystemError("read", path: "slot table spill", errno: EIO) }
            for i in 0..<n {
                let p = buffer + i * slotBytes
                try files[SlotTable.home(p, capacity: capacity) >> shift].add(p)
            }
            done += n
        }
        for file in files {
            try file.flush()
            let n = file.slots
            // A partition larger than the buffer (an unlucky spread) gets memory of its own.
            let base = n <= bufferSlots ? buffer : UnsafeMutableRawPointer.allocate(byteCount: n * slotBytes, alignment: 8)
            defer { if base != buffer { base.deallocate() } }
            let got = try file.fd.read(into: UnsafeMutableRawBufferPointer(start: base, count: n * slotBytes), at: 0)
            guard got == n * slotBytes else { throw SystemError("read", path: "slot table partition", errno: EIO) }
            try place(base, n, into: &out)
        }
    }

    /// Sorts `n` slots at `base` by home (ties by SlotTable.precedes) and places them in that order.
    private func place(_ base: UnsafeMutableRawPointer, _ n: Int, into out: inout SlotRun) throws {
        let capacity = out.capacity, slotBytes = self.slotBytes
        // home << 24 | index, sorted by home (stably: equal homes stay in index order, and are
        // ordered by SlotTable.precedes after).
        var order = [UInt64](unsafeUninitializedCapacity: n) { keys, initialized in
            for i in 0..<n { keys[i] = UInt64(SlotTable.home(base + i * slotBytes, capacity: capacity)) << 24 | UInt64(i) }
            initialized = n
        }
        // Homes are below the capacity: the bits above the 24 of the index that can be set.
        RadixSort.sort(&order, bits: 24..<(24 + Int.bitWidth - (capacity - 1).leadingZeroBitCount))
        func slot(_ k: UInt64) -> UnsafeMutableRawPointer { base + Int(k & 0xFF_FFFF) * slotBytes }
        // In home order the slots are read in no order at all (a cache miss each): the slot a
        // few entries ahead starts loading while this one is placed.
        let ahead = Self.prefetchSlots
        for k in 0..<min(ahead, n) { Prefetch.forRead(slot(order[k])) }
        var i = 0
        while i < n {
            var j = i + 1
            while j < n && order[j] >> 24 == order[i] >> 24 { j += 1 }
            if j - i > 1 { order[i..<j].sort { SlotTable.precedes(slot($0), slot($1)) } }
            for k in i..<j {
                if k + ahead < n { Prefetch.forRead(slot(order[k + ahead])) }
                try out.place(slot(order[k]), home: Int(order[k] >> 24))
            }
            i = j
        }
    }
}

extension SlotTableWriter {
    /// Writes the table of 8-byte keys (no value) that `keys` holds, laid out as it is (its
    /// capacity, each entry in its slot), at `path`.new: complete and fsynced, not yet in place.
    static func write(laidOut keys: KeyTable, path: String, contentVersion: UInt32, checkpoint: UInt64, mark: UInt64) throws -> PreparedSlotTable {
        let keyBytes = 8
        return try writeTable(path: path, keyBytesMax: keyBytes, valueBytes: 0, contentVersion: contentVersion, capacity: keys.capacity,
                              count: keys.count, checkpoint: checkpoint, mark: mark) { out in
            let slot = UnsafeMutableRawPointer.allocate(byteCount: SlotTable.slotHeaderBytes + keyBytes, alignment: 8)
            defer { slot.deallocate() }
            let noValue = UnsafeRawBufferPointer(start: nil, count: 0)
            try keys.withSlots { slots in
                for i in slots.indices where slots[i].key != 0 {
                    withUnsafeBytes(of: slots[i].key.littleEndian) { key in
                        SlotTable.encodeSlot(key: key, appliedPosition: slots[i].position, value: noValue, keyBytesMax: keyBytes, into: slot)
                    }
                    // Its own slot: every entry before it sits in an earlier one.
                    try out.place(slot, home: i)
                }
            }
        }
    }
}

/// A table written by SlotTableWriter under a temporary name, waiting to be put in place;
/// removed if it never is.
public final class PreparedSlotTable: @unchecked Sendable {
    let temp: String
    let path: String
    let keyBytesMax: Int
    let valueBytes: Int
    let contentVersion: UInt32
    var installed = false

    init(temp: String, path: String, keyBytesMax: Int, valueBytes: Int, contentVersion: UInt32) {
        self.temp = temp
        self.path = path
        self.keyBytesMax = keyBytesMax
        self.valueBytes = valueBytes
        self.contentVersion = contentVersion
    }

    deinit { if !installed { try? FileSystem.remove(temp) } }

    /// Puts the table in place (rename) without opening it.
    public func install() throws {
        try SlotTable.wrap { try FileSystem.rename(temp, path) }
        installed = true
    }
}

/// The slots of the table being written, in slot order: a window of them in memory, written
/// out as the next entry's slot passes it; gaps are zero (empty slots).
private struct SlotRun {
    let fd: FileDescriptor
    let slotBytes: Int
    let capacity: Int
    private let windowSlots: Int
    /// Zeroed to begin with, and after each write.
    private let memory: ZeroedMemory
    private var window: UnsafeMutableRawPointer { memory.base }
    private var windowStart = 0
    /// The first slot after the last entry placed.
    private var next = 0
    /// Entries placed past the last slot, in order: they belong at slot 0 onwards.
    private var overflow: [[UInt8]] = []

    init(fd: FileDescriptor, slotBytes: Int, capacity: Int) {
        self.fd = fd
        self.slotBytes = slotBytes
        self.capacity = capacity
        windowSlots = min(capacity, max(1, (1 << 20) / slotBytes))
        memory = ZeroedMemory(byteCount: windowSlots * slotBytes, populated: true)
    }

    mutating func place(_ slot: UnsafeRawPointer, home: Int) throws {
        let index = max(home, next)
        next = index + 1
        if index >= capacity {
            overflow.append(Array(UnsafeRawBufferPointer(start: slot, count: slotBytes)))
            return
        }
        while index >= windowStart + windowSlots { try flushWindow() }
        SlotTable.copySlot(window + (index - windowStart) * slotBytes, slot, slotBytes)
    }

    private mutating func flushWindow() throws {
        let n = min(windowSlots, capacity - windowStart)
        try fd.writeAll(UnsafeRawBufferPointer(start: window, count: n * slotBytes), at: SlotTable.headerBytes + windowStart * slotBytes)
        // On its way to the disk while the rest is placed: the table's fdatasync waits for less.
        fd.startWriteBack(offset: SlotTable.headerBytes + windowStart * slotBytes, count: n * slotBytes)
        window.initializeMemory(as: UInt8.self, repeating: 0, count: windowSlots * slotBytes)
        windowStart += n
    }

    /// Writes every slot not written yet (the rest are empty).
    mutating func finish() throws {
        while windowStart < capacity { try flushWindow() }
    }

    /// Puts the overflow at slot 0 onwards: each entry from slot 0 on moves to max(home, the
    /// previous one's slot + 1), in order, until one stays where it was (the rest stay too).
    mutating func wrapAround() throws {
        guard !overflow.isEmpty else { return }
        var queue = overflow[...]
        let wrapped = overflow.count
        var placedWrapped = 0
        var last = -1
        let empty = [UInt8](repeating: 0, count: slotBytes)
        for index in 0..<capacity {
            let old = try fd.read(count: slotBytes, at: SlotTable.headerBytes + index * slotBytes)
            guard old.count == slotBytes else { throw SystemError("read", path: fd.path, errno: EIO) }
            if SlotTable.keyLength(old) != 0 { queue.append(old) }
            let first = queue.first!
            let target = placedWrapped < wrapped ? last + 1 : max(first.withUnsafeBytes { SlotTable.home($0.baseAddress!, capacity: capacity) }, last + 1)
            if target <= index {
                try fd.writeAll(first, at: SlotTable.headerBytes + index * slotBytes)
                queue.removeFirst()
                if placedWrapped < wrapped { placedWrapped += 1 }
                last = index
            } else {
                try fd.writeAll(empty, at: SlotTable.headerBytes + index * slotBytes)
            }
            if queue.isEmpty { return }
        }
        throw SlotTableError.damaged(path: fd.path, reason: "no free slot in \(capacity)")
    }
}

/// One partition's spill file, written through a small buffer.
private final class PartitionFile {
    static let bufferBytes = 8 << 10
    let fd: FileDescriptor
    let slotBytes: Int
    // Touched for every slot (see SlotTableWriter.count).
    @exclusivity(unchecked) private(set) var slots = 0
    private let pending: UnsafeMutableRawPointer
    private let pendingMax: Int
    @exclusivity(unchecked) private var pendingSlots = 0

    init(fd: FileDescriptor, slotBytes: Int) {
        self.fd = fd
        self.slotBytes = slotBytes
        pendingMax = max(1, Self.bufferBytes / slotBytes)
        pending = .allocate(byteCount: pendingMax * slotBytes, alignment: 8)
    }

    deinit { pending.deallocate() }

    @inline(__always)
    func add(_ p: UnsafeRawPointer) throws {
        SlotTable.copySlot(pending + pendingSlots * slotBytes, p, slotBytes)
        pendingSlots += 1
        slots += 1
        if pendingSlots == pendingMax { try flush() }
    }

    func flush() throws {
        guard pendingSlots > 0 else { return }
        try fd.writeAll(UnsafeRawBufferPointer(start: pending, count: pendingSlots * slotBytes), at: (slots - pendingSlots) * slotBytes)
        pendingSlots = 0
    }

    func close() { fd.close() }
}
