// The log read on a thread of its own, ahead of the thread that folds it: reading, the CRC
// and the frame checks (about a third of a replay of the balances) overlap the fold. The
// reader copies whole committed batches into a few reused buffers and hands them over a
// buffer at a time (a batch of one record each would otherwise cost a hand-over each).

import LedgerStorage

enum ReadAhead {
    /// Bytes a buffer gathers before it is handed over (a batch larger than that gets a
    /// buffer of its own size), and how many buffers there are: memory bounded by both.
    static let bufferBytes = 512 << 10
    static let buffers = 3

    /// A buffer of checked batches, their frames back to back.
    private final class Buffer: @unchecked Sendable {
        var bytes: UnsafeMutableRawBufferPointer
        var used = 0
        var batches: [RecordBatch] = []

        init(capacity: Int) { bytes = .allocate(byteCount: capacity, alignment: 64) }
        deinit { bytes.deallocate() }

        /// Copies `batch` in, or returns false when it does not fit behind what is there.
        func add(_ batch: RecordBatch) -> Bool {
            let n = batch.frames.count
            if used + n > bytes.count {
                guard used == 0 else { return false }
                bytes.deallocate()
                bytes = .allocate(byteCount: n, alignment: 64)
            }
            if n > 0 { (bytes.baseAddress! + used).copyMemory(from: batch.frames.baseAddress!, byteCount: n) }
            batches.append(batch.moved(to: bytes.baseAddress! + used))
            used += n
            return true
        }

        func reset() {
            used = 0
            batches.removeAll(keepingCapacity: true)
        }
    }

    /// `log.forEachBatch(from:through:)`, read on another thread. `visit` runs on the calling
    /// thread, which must not use `log` meanwhile. Errors reach the caller after the batches
    /// before them, as they would without the thread. Without a thread (none could be started,
    /// or `threaded: false`, for the tests), it reads in place.
    static func forEachBatch(_ log: Log, from position: UInt64, through last: UInt64 = .max, threaded: Bool = true,
                             _ visit: (RecordBatch) throws -> Bool) throws {
        let full = ChunkPipe<Buffer>(chunksMax: buffers)
        let free = ChunkPipe<Buffer>(chunksMax: buffers)
        for _ in 0..<buffers { _ = free.send(Buffer(capacity: bufferBytes)) }
        let reader = Background(threaded: threaded) { () throws -> Void in
            guard var buffer = try free.receive() else { return full.finish() }
            var stopped = false
            var failure: Error?
            do {
                try log.forEachBatch(from: position, through: last) { batch in
                    if buffer.add(batch) { return true }
                    guard full.send(buffer), let next = try free.receive() else { stopped = true; return false }
                    buffer = next
                    return buffer.add(batch)
                }
            } catch {
                failure = error
            }
            // The batches read before an error go first.
            if !stopped && buffer.used > 0 { _ = full.send(buffer) }
            full.finish(throwing: failure)
        }
        guard reader.started else { return try log.forEachBatch(from: position, through: last, visit) }
        // However the visit ends, the reader stops (its next hand-over fails) and is joined.
        defer {
            full.cancel()
            free.cancel()
            try? reader.join()
        }
        while let buffer = try full.receive() {
            for batch in buffer.batches where try !visit(batch) { return }
            buffer.reset()
            _ = free.send(buffer)
        }
    }
}
