// The log read on a thread of its own, ahead of the thread that folds it: the CRC and the
// frame checks overlap the fold, and so does a digest of each record (what the fold needs of
// it, read from its bytes alone). The reader scans mapped windows of the segments in place
// and hands whole committed batches over a few hundred KiB at a time (a batch of one record
// each would otherwise cost a hand-over each), with the windows they lie in, unmapped once
// the visitor is done with them: nothing is copied.

import LedgerStorage

enum ReadAhead {
    /// Bytes of batches a buffer gathers before it is handed over (a larger batch gets a
    /// buffer to itself), and how many buffers there are: the windows kept mapped are bounded
    /// by both.
    static let bufferBytes = 512 << 10
    static let buffers = 3

    /// Checked batches read in place from mapped windows of the log, the windows they lie in
    /// (held until the buffer is reset), and their records' digests. Only the reading thread
    /// touches it until it is handed over, and only the visiting one after: no run-time
    /// exclusivity checks on its counters, which every record touches.
    private final class Buffer<Digest: BitwiseCopyable>: @unchecked Sendable {
        /// Bytes of the batches gathered: a buffer is handed over at `bufferBytes`.
        @exclusivity(unchecked) var used = 0
        var batches: [RecordBatch] = []
        private var regions: [MappedRegion] = []
        /// The digests of the batches' records, in order (Digest is a plain value type).
        @exclusivity(unchecked) private(set) var digests: UnsafeMutableBufferPointer<Digest>
        @exclusivity(unchecked) private(set) var digestCount = 0

        init() { digests = .allocate(capacity: bufferBytes / 64) }
        deinit {
            _ = digests[..<digestCount].deinitialize()
            digests.deallocate()
        }

        /// Adds `batch` (its bytes in `region`) with its records' digests, or returns false when
        /// the buffer is full; an empty buffer takes any batch.
        func add(_ batch: RecordBatch, in region: MappedRegion, digest: (StoredRecord) -> Digest) -> Bool {
            let n = batch.frames.count
            if used + n > bufferBytes && used > 0 { return false }
            if digestCount + batch.count > digests.count {
                let grown = UnsafeMutableBufferPointer<Digest>.allocate(capacity: max(digests.count * 2, digestCount + batch.count))
                _ = grown.moveInitialize(fromContentsOf: digests[..<digestCount])
                digests.deallocate()
                digests = grown
            }
            if regions.last !== region { regions.append(region) }
            batches.append(batch)
            // The visiting thread read this memory last: an ordinary store would first take each
            // line back from that core's cache (a stall on every few records).
            var next = digests.baseAddress! + digestCount
            for record in batch {
                Prefetch.streamStore(digest(record), to: next)
                next += 1
            }
            Prefetch.streamFence()
            digestCount += batch.count
            used += n
            return true
        }

        func reset() {
            used = 0
            batches.removeAll(keepingCapacity: true)
            regions.removeAll(keepingCapacity: true)
            _ = digests[..<digestCount].deinitialize()
            digestCount = 0
        }
    }

    /// `log.forEachBatch(from:through:)`, read on another thread (from mapped windows: the
    /// caller holds the store's lock, see MappedRegion), with `digest` of each record made on
    /// that thread and handed to `visit` beside its batch (the digests of the batch's records,
    /// in order). `visit` runs on the calling thread, which must not use `log` meanwhile.
    /// Errors reach the caller after the batches before them, as they would without the
    /// thread. Without a thread (none could be started, or `threaded: false`, for the tests),
    /// it reads in place.
    static func forEachBatch<Digest: BitwiseCopyable>(_ log: Log, from position: UInt64, through last: UInt64 = .max, threaded: Bool = true,
                                     digest: @escaping @Sendable (StoredRecord) -> Digest,
                                     _ visit: (RecordBatch, UnsafeBufferPointer<Digest>) throws -> Bool) throws {
        let full = ChunkPipe<Buffer<Digest>>(chunksMax: buffers)
        let free = ChunkPipe<Buffer<Digest>>(chunksMax: buffers)
        for _ in 0..<buffers { _ = free.send(Buffer()) }
        let reader = Background(threaded: threaded) { () throws -> Void in
            guard var buffer = try free.receive() else { return full.finish() }
            var stopped = false
            var failure: Error?
            do {
                try log.forEachMappedBatch(from: position, through: last) { batch, region in
                    if buffer.add(batch, in: region, digest: digest) { return true }
                    guard full.send(buffer), let next = try free.receive() else { stopped = true; return false }
                    // Emptied here, not by the visitor: the windows it alone held are unmapped on
                    // this thread.
                    next.reset()
                    buffer = next
                    return buffer.add(batch, in: region, digest: digest)
                }
            } catch {
                failure = error
            }
            // The batches read before an error go first.
            if !stopped && buffer.used > 0 { _ = full.send(buffer) }
            full.finish(throwing: failure)
        }
        guard reader.started else {
            var digests: [Digest] = []
            return try log.forEachBatch(from: position, through: last) { batch in
                digests.removeAll(keepingCapacity: true)
                for record in batch { digests.append(digest(record)) }
                return try digests.withUnsafeBufferPointer { try visit(batch, $0) }
            }
        }
        // However the visit ends, the reader stops (its next hand-over fails) and is joined.
        defer {
            full.cancel()
            free.cancel()
            try? reader.join()
        }
        while let buffer = try full.receive() {
            var first = 0
            for batch in buffer.batches {
                let digests = UnsafeBufferPointer(rebasing: buffer.digests[first..<(first + batch.count)])
                if try !visit(batch, digests) { return }
                first += batch.count
            }
            _ = free.send(buffer)
        }
    }
}
