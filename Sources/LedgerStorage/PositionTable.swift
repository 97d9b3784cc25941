// A file of fixed-size records addressed by log position: record p lives at
// header + (p - 1) * recordBytes, so re-writing the record of an event gives the same
// bytes at the same place (idempotent, and a rebuilt file equals an incremental one).
// The storage under the per-account history view; knows bytes, not money.
//
// header (64 bytes): "LEDGRPTB", u32 version (1), u32 recordBytes, u64 checkpoint,
//   36 bytes reserved, u32 crc32c(0..<60)
// record: payload[recordBytes - 4], u32 crc32c(payload); all zero = no record

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

public final class PositionTable {
    public static let headerBytes = 64
    static let magic = Array("LEDGRPTB".utf8)

    public let path: String
    public let recordBytes: Int
    public var payloadBytes: Int { recordBytes - 4 }
    /// Every record at or before this position is durable.
    public private(set) var checkpoint: UInt64
    fileprivate let fd: FileDescriptor
    /// Writes gathered for one sequential pwrite (bulk builds).
    private var pending: [UInt8] = []
    private var pendingFirst: UInt64 = 0

    private init(path: String, fd: FileDescriptor, recordBytes: Int, checkpoint: UInt64) {
        self.path = path
        self.fd = fd
        self.recordBytes = recordBytes
        self.checkpoint = checkpoint
    }

    deinit { fd.close() }

    static func header(recordBytes: Int, checkpoint: UInt64) -> [UInt8] {
        var h = magic
        h.appendLE(UInt32(1)); h.appendLE(UInt32(recordBytes)); h.appendLE(checkpoint)
        h += [UInt8](repeating: 0, count: 36)
        h.appendLE(CRC32C.checksum(h))
        return h
    }

    /// A new, empty table (replacing any file at `path` atomically).
    public static func create(path: String, recordBytes: Int) throws -> PositionTable {
        try SlotTable.wrap {
            let temp = path + ".new"
            try FileSystem.makeDirectory(FileSystem.parentDirectory(of: path))
            let fd = try FileDescriptor.open(temp, O_RDWR | O_CREAT | O_TRUNC)
            defer { fd.close() }
            try fd.writeAll(header(recordBytes: recordBytes, checkpoint: 0), at: 0)
            try fd.syncData()
            try FileSystem.rename(temp, path)
        }
        guard let table = try open(path: path, recordBytes: recordBytes, writable: true) else {
            throw SlotTableError.damaged(path: path, reason: "vanished after create")
        }
        return table
    }

    /// Opens an existing table; nil if there is none.
    public static func open(path: String, recordBytes: Int, writable: Bool) throws -> PositionTable? {
        guard let fd = try SlotTable.wrap({ try FileDescriptor.openIfExists(path, writable ? O_RDWR : O_RDONLY) }) else { return nil }
        do {
            let h = try SlotTable.wrap { try fd.read(count: headerBytes, at: 0) }
            guard h.count == headerBytes, Array(h[0..<8]) == magic else { throw SlotTableError.damaged(path: path, reason: "bad header") }
            return try h.withUnsafeBytes { raw in
                let p = raw.baseAddress!
                guard LE.u32(p, 60) == CRC32C.checksum(UnsafeRawBufferPointer(start: p, count: 60)) else {
                    throw SlotTableError.damaged(path: path, reason: "header CRC mismatch")
                }
                guard LE.u32(p, 8) == 1, Int(LE.u32(p, 12)) == recordBytes else {
                    throw SlotTableError.damaged(path: path, reason: "unexpected layout")
                }
                return PositionTable(path: path, fd: fd, recordBytes: recordBytes, checkpoint: LE.u64(p, 16))
            }
        } catch {
            fd.close()
            throw error
        }
    }

    fileprivate func offset(_ position: UInt64) -> Int { Self.headerBytes + Int(position - 1) * recordBytes }

    /// The payload of record `position`, or nil when there is none (beyond the file, or zero).
    /// A record failing its CRC is read again (a writer may be mid-pwrite), then called damage.
    public func read(_ position: UInt64) throws -> [UInt8]? {
        precondition(position >= 1)
        guard position < UInt64(Int.max / recordBytes) else { return nil }
        try flush()
        for attempt in 0..<3 {
            let bytes = try SlotTable.wrap { try fd.read(count: recordBytes, at: offset(position)) }
            guard bytes.count == recordBytes else { return nil }
            let verdict = bytes.withUnsafeBytes { raw -> Bool? in
                if raw.allSatisfy({ $0 == 0 }) { return nil }
                return LE.u32(raw.baseAddress!, payloadBytes) == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<payloadBytes]))
            }
            guard let sound = verdict else { return nil }
            if sound { return Array(bytes[0..<payloadBytes]) }
            if attempt < 2 { usleep(1000) }
        }
        throw SlotTableError.damaged(path: path, reason: "record \(position) fails its CRC")
    }

    /// Visits the payloads of records `from...through` in order (see ChunkReader). Stops at the
    /// first missing record and returns false (true when every record was there).
    public func forEach(from: UInt64, through: UInt64, _ body: (UInt64, UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        let reader = try chunks(from: from, through: through)
        while let chunk = try reader.next() {
            for i in 0..<chunk.count {
                try body(chunk.first + UInt64(i), UnsafeRawBufferPointer(start: chunk.payload(i), count: payloadBytes))
            }
        }
        return reader.complete
    }

    /// Records `from...through` in large sequential chunks (hot loops walk a chunk with no
    /// call per record).
    public func chunks(from: UInt64, through: UInt64) throws -> ChunkReader {
        precondition(from >= 1)
        try flush()
        return ChunkReader(table: self, from: from, through: through)
    }

    /// Reads records in 64 KiB chunks (the chunk stays in cache while it is read, and costs few
    /// page faults), each record checked by its CRC; a record failing it is read again alone
    /// (as `read` does) and patched into the chunk. The reading stops at the first missing
    /// record; `complete` then says false.
    public final class ChunkReader {
        public struct Chunk {
            /// The position of the chunk's first record.
            public let first: UInt64
            public let count: Int
            let base: UnsafeRawPointer
            let recordBytes: Int
            /// The payload of the chunk's record `i` (payloadBytes long).
            public func payload(_ i: Int) -> UnsafeRawPointer { base + i * recordBytes }
        }

        private let table: PositionTable
        private var position: UInt64
        private let through: UInt64
        private let buffer: UnsafeMutableRawBufferPointer
        /// false once a record was missing.
        public private(set) var complete = true
        /// Tests only: runs after a chunk is read and before its records are checked (a writer
        /// finishing its pwrite in between is what the re-read of a failing record is for).
        var afterChunkRead: (() -> Void)?

        fileprivate init(table: PositionTable, from: UInt64, through: UInt64) {
            self.table = table
            position = from
            self.through = through
            let chunkRecords = max(1, (1 << 16) / table.recordBytes)
            buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkRecords * table.recordBytes, alignment: 8)
        }

        deinit { buffer.deallocate() }

        /// The next chunk, valid until the next call; nil after the last record or a missing one.
        public func next() throws -> Chunk? {
            guard complete, position <= through else { return nil }
            let recordBytes = table.recordBytes, payloadBytes = table.payloadBytes
            let want = Int(min(UInt64(buffer.count / recordBytes), through - position + 1))
            let got = try SlotTable.wrap {
                try table.fd.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<(want * recordBytes)]), at: table.offset(position))
            }
            var records = got / recordBytes
            afterChunkRead?()
            for r in 0..<records {
                let record = buffer.baseAddress! + r * recordBytes
                if LE.u32(record, payloadBytes) == CRC32C.checksum(UnsafeRawBufferPointer(start: record, count: payloadBytes)) { continue }
                guard let again = try table.read(position + UInt64(r)) else {
                    records = r
                    break
                }
                again.withUnsafeBytes { record.copyMemory(from: $0.baseAddress!, byteCount: payloadBytes) }
            }
            if records < want { complete = false }
            guard records > 0 else { return nil }
            defer { position += UInt64(records) }
            return Chunk(first: position, count: records, base: UnsafeRawPointer(buffer.baseAddress!), recordBytes: recordBytes)
        }
    }

    /// Writes record `position` (payloadBytes long). Consecutive writes are gathered and written
    /// together; flush() (or any read, checkpoint or truncate) writes them out.
    public func write(_ position: UInt64, _ payload: UnsafeRawBufferPointer) throws {
        try write(first: position, payloads: payload)
    }

    /// Writes records `first`, `first + 1`, … whose payloads lie back to back in `payloads`: a
    /// bulk build hands over a batch at once, its records framed in a local buffer (the class's
    /// own buffer, used directly, was two appends and run-time exclusivity checks per record).
    public func write(first: UInt64, payloads: UnsafeRawBufferPointer) throws {
        let count = payloads.count / payloadBytes
        precondition(count * payloadBytes == payloads.count && first >= 1)
        guard count > 0, let source = payloads.baseAddress else { return }
        if !pending.isEmpty && first != pendingFirst + UInt64(pending.count / recordBytes) { try flush() }
        if pending.isEmpty { pendingFirst = first }
        var out: [UInt8] = []
        swap(&out, &pending)
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: count * recordBytes))
        let payloadBytes = self.payloadBytes, recordBytes = self.recordBytes
        out.withUnsafeMutableBytes { raw in
            var to = raw.baseAddress! + start
            for i in 0..<count {
                let payload = UnsafeRawBufferPointer(start: source + i * payloadBytes, count: payloadBytes)
                to.copyMemory(from: payload.baseAddress!, byteCount: payloadBytes)
                to.storeBytes(of: CRC32C.checksum(payload).littleEndian, toByteOffset: payloadBytes, as: UInt32.self)
                to += recordBytes
            }
        }
        swap(&out, &pending)
        if pending.count >= 1 << 20 { try flush() }
    }

    public func flush() throws {
        guard !pending.isEmpty else { return }
        let at = offset(pendingFirst)
        try SlotTable.wrap { try fd.writeAll(pending, at: at) }
        // On its way to the disk now, not all at once when the checkpoint syncs it (an import's
        // history records would otherwise reach the disk together with its log's first sync).
        fd.startWriteBack(offset: at, count: pending.count)
        pending.removeAll(keepingCapacity: true)
    }

    /// Makes the records written so far durable, without moving the checkpoint: a bulk build
    /// calls it on its own thread when it ends, so that the checkpoint's sync finds little to do.
    public func syncRecords() throws {
        try flush()
        try SlotTable.wrap { try fd.syncData() }
    }

    /// Drops every record after `position` (records of events the log does not hold).
    public func truncate(after position: UInt64) throws {
        try flush()
        let keep = Self.headerBytes + Int(position) * recordBytes
        if try SlotTable.wrap({ try fd.size() }) > keep { try SlotTable.wrap { try fd.truncate(to: keep) } }
    }

    /// Makes every write so far durable, then records `position` as the checkpoint.
    public func checkpoint(through position: UInt64) throws {
        try flush()
        try SlotTable.wrap {
            try fd.syncData()
            try fd.writeAll(Self.header(recordBytes: recordBytes, checkpoint: position), at: 0)
        }
        checkpoint = position
    }
}
