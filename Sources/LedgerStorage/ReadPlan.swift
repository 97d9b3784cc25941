// A read of a range of the log worked out ahead (Log.readPlan): which segments, where in
// each the scan starts. Reading it needs nothing of the Log object, so two plans of
// disjoint ranges can be read on two threads at once.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One segment's part of a read: the segment's files and committed size as its check found
/// them, and where the scan starts.
struct SegmentRead: Sendable {
    let name: String
    let path: String
    let committedBytes: Int
    let lastPosition: UInt64
    /// A record's offset (found through the index), or the first record's.
    let startOffset: Int
    let startPosition: UInt64
    /// Records before this position are not handed out (the scan may start before it when the
    /// index could not seek to it).
    let skipBelow: UInt64
    /// Where the bytes a plan reads end, when its last record lies here and the index found it
    /// (nil: at `committedBytes`): no window is mapped past it.
    var endOffset: Int? = nil

    /// Scans the segment's committed batches from the start, trimmed to the records from
    /// `skipBelow` through `stop`; true when the visitor stopped or `stop` was reached. A
    /// damaged batch is an error: only committed bytes are read. `stopInBatch`: a batch that
    /// goes on past `stop` is read only through it (its commit record is not checked: the
    /// reader of the range after `stop` checks it), and no byte past `endOffset` is mapped.
    func scan(through stop: UInt64, mapWindowBytes: Int?, stopInBatch: Bool = false,
              _ visit: (RecordBatch, MappedRegion?) throws -> Bool) throws -> Bool {
        let fd = try StorageError.wrapping { try FileDescriptor.open(path, O_RDONLY) }
        defer { fd.close() }
        let scanner = SegmentScanner(fd: fd, name: name, endOffset: stopInBatch ? endOffset ?? committedBytes : committedBytes, mapWindowBytes: mapWindowBytes)
        var state = ScanState(nextPosition: startPosition, lastTimestampMicros: Int64.min, chain: nil,
                              verifyChain: false, committedEnd: startOffset)
        var finished = false
        let result = try scanner.scanBatches(from: startOffset, state: &state, partialFirstBatch: startOffset != RecordFormat.segmentHeaderBytes,
                                             stopInBatch: stopInBatch ? stop : .max) { batch in
            if batch.lastPosition < skipBelow { return true }
            if let wanted = batch.trimmed(from: skipBelow, through: stop), try !visit(wanted, scanner.region) { finished = true; return false }
            if batch.lastPosition >= stop { finished = true; return false }
            return true
        }
        if finished || result == .stopped { return true }
        if case .damaged(_, let offset, let position, let reason) = result {
            throw StorageError.corruptRecord(segment: name, offset: offset, position: position, reason: reason)
        }
        return false
    }
}

/// Positions `first` through `last` of the log, as `Log.readPlan` worked them out.
public struct ReadPlan: Sendable {
    let pieces: [SegmentRead]
    /// The last position the plan reads (capped at the head when it was made).
    public let last: UInt64

    /// `Log.forEachMappedBatch` over the plan's range: each committed batch, checked, read in
    /// place from a mapped window of its segment, with that window. The caller holds the store's
    /// lock (see MappedRegion). The plans of a range split in parts read each record once: a
    /// batch that straddles two is read through the first's last record by the first (which
    /// maps nothing after it), and from there on, commit record included, by the second.
    public func forEachMappedBatch(windowBytes: Int = Limits.mapWindowBytes, _ visit: (RecordBatch, MappedRegion) throws -> Bool) throws {
        for piece in pieces {
            if try piece.scan(through: last, mapWindowBytes: windowBytes, stopInBatch: true, { batch, region in try visit(batch, region!) }) { return }
        }
    }
}
