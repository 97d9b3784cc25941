// Batches that are complete but not yet appended: `ledger import` validates every
// line before it writes the first batch. The newest batches' frames stay in memory up
// to a budget; older ones move to an unlinked temporary file in the log directory, so
// an import of any length holds a bounded amount of memory. A crash loses the file
// with the process (it has no name), and nothing in it was acknowledged.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

public final class BatchSpool {
    private struct Entry {
        let firstPosition: UInt64
        let count: Int
        let lastTimestampMicros: Int64
        let byteCount: Int
        var frames: [UInt8]?
        var fileOffset = -1
    }

    private let directory: String
    private let memoryBytesMax: Int
    private var entries: [Entry] = []
    private var memoryBytes = 0
    private var file: FileDescriptor?
    private var fileBytes = 0
    /// Entries before this one have been moved to the file.
    private var firstInMemory = 0

    public init(directory: String, memoryBytesMax: Int) {
        self.directory = directory
        self.memoryBytesMax = memoryBytesMax
    }

    deinit { file?.close() }

    public var batchCount: Int { entries.count }
    public var recordCount: Int { entries.reduce(0) { $0 + $1.count } }
    /// Frames held in memory now (for tests of the bound).
    public var bytesInMemory: Int { memoryBytes }

    /// Keeps `batch`; it must follow the previous one.
    public func add(_ batch: Batch) throws {
        precondition(!batch.isEmpty)
        if let last = entries.last { precondition(batch.firstPosition == last.firstPosition + UInt64(last.count), "batches out of order") }
        entries.append(Entry(firstPosition: batch.firstPosition, count: batch.count, lastTimestampMicros: batch.lastTimestampMicros,
                             byteCount: batch.byteCount, frames: batch.frames))
        memoryBytes += batch.byteCount
        while memoryBytes > memoryBytesMax && firstInMemory < entries.count - 1 {
            try moveToFile(firstInMemory)
            firstInMemory += 1
        }
    }

    private func moveToFile(_ i: Int) throws {
        guard let frames = entries[i].frames else { return }
        let fd = try file ?? StorageError.wrapping { try FileDescriptor.openUnlinked(in: directory, name: ".spool") }
        file = fd
        try StorageError.wrapping { try fd.writeAll(frames, at: fileBytes) }
        entries[i].fileOffset = fileBytes
        entries[i].frames = nil
        fileBytes += frames.count
        memoryBytes -= frames.count
    }

    private func batch(_ i: Int) throws -> Batch {
        let e = entries[i]
        let frames = try e.frames ?? StorageError.wrapping { try file!.read(count: e.byteCount, at: e.fileOffset) }
        guard frames.count == e.byteCount else { throw StorageError.io(SystemError("read", path: "import spool", errno: EIO)) }
        return Batch(firstPosition: e.firstPosition, count: e.count, lastTimestampMicros: e.lastTimestampMicros, frames: frames)
    }

    /// Every batch, in order; each one's memory is released once `body` has returned.
    public func drain(_ body: (Batch) throws -> Void) throws {
        for i in entries.indices {
            try body(try batch(i))
            if entries[i].frames != nil { memoryBytes -= entries[i].byteCount }
            entries[i].frames = nil
        }
        entries = []
        firstInMemory = 0
    }

    /// The record spooled at `position` (type, schema version, payload), or nil if none is.
    public func record(at position: UInt64) throws -> (type: UInt16, schemaVersion: UInt16, payload: [UInt8])? {
        // The batch holding it: the last whose first position is not after it.
        var lo = 0, hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if entries[mid].firstPosition <= position { lo = mid + 1 } else { hi = mid }
        }
        guard lo > 0 else { return nil }
        let e = entries[lo - 1]
        guard position < e.firstPosition + UInt64(e.count) else { return nil }
        return try batch(lo - 1).record(at: position)
    }
}
