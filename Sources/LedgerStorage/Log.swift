// The log as a whole: its segments, its committed head, forward iteration from
// any position and lookups by position and by time through the sidecar indexes.
// Opening never changes a file unless `repair` is set (the writer holds the lock).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The last committed record: its position, timestamp and the hash chain value after it.
public struct LogHead: Equatable, Sendable {
    public var position: UInt64
    public var timestampMicros: Int64
    public var chain: [UInt8]

    public init(position: UInt64, timestampMicros: Int64, chain: [UInt8]) {
        self.position = position
        self.timestampMicros = timestampMicros
        self.chain = chain
    }

    public static let genesisChain = [UInt8](repeating: 0, count: SHA256.digestBytes)
    public static let empty = LogHead(position: 0, timestampMicros: Int64.min, chain: genesisChain)

    /// "POSITION:HASH", the form `ledger info` prints and `verify --expect-head` takes.
    public var text: String { "\(position):\(Hex.encode(chain))" }
}

/// Something opening or reading the log found and dealt with; reported, never fatal.
public enum StorageNote: Equatable, CustomStringConvertible {
    case indexRebuilt(segment: String, reason: String)
    case tailCut(segment: String, offset: Int, bytes: Int, reason: String)
    case tailIgnored(segment: String, offset: Int, bytes: Int, reason: String)
    /// The last segment's creation was torn (a crash before its header was durable): it holds no batch.
    case creationTorn(segment: String, reason: String, repaired: Bool)
    /// A segment an import was staging when it stopped (it never held a committed batch), removed.
    case stagedFileRemoved(name: String, bytes: Int)

    public var description: String {
        switch self {
        case .indexRebuilt(let s, let r): return "index of \(s) rebuilt from the segment: \(r)"
        case .tailCut(let s, let o, let b, let r): return "cut \(b) uncommitted bytes from \(s) at byte offset \(o): \(r)"
        case .tailIgnored(let s, let o, let b, let r): return "ignoring \(b) uncommitted bytes in \(s) at byte offset \(o): \(r)"
        case .creationTorn(let s, let r, let repaired):
            return "\(s) holds no committed batch; its creation was torn (\(r)); " + (repaired ? "header rewritten" : "the next write repairs it")
        case .stagedFileRemoved(let name, let bytes):
            return "removed \(name) (\(bytes) bytes): batches an import staged and never committed"
        }
    }
}

public final class Segment {
    public let base: UInt64
    public let name: String
    public let path: String
    public let indexPath: String
    /// base - 1 while the segment holds no committed record.
    public internal(set) var lastPosition: UInt64
    /// A sealed segment not opened yet: `lastPosition` comes from the next segment's name, and
    /// its files are checked on first use (Log.checked).
    var unchecked = false
    /// Bytes up to the end of the last committed batch.
    public internal(set) var committedBytes: Int
    /// Leading index entries that are on disk and trusted.
    var indexEntriesOnDisk: Int
    /// Entries after those, known from a scan (an index being repaired, or a reader's view of an unindexed tail).
    var indexEntriesInMemory: [IndexEntry] = []
    private var indexFD: FileDescriptor?

    init(base: UInt64, directory: String) {
        self.base = base
        name = RecordFormat.segmentName(base: base)
        path = directory + "/" + name
        indexPath = directory + "/" + RecordFormat.indexName(base: base)
        lastPosition = base &- 1
        committedBytes = RecordFormat.segmentHeaderBytes
        indexEntriesOnDisk = 0
    }

    /// The segment file opened for reading by lookups, kept open like the index's.
    private var readFD: FileDescriptor?

    deinit {
        indexFD?.close()
        readFD?.close()
    }

    /// The segment file, opened for reading on the first lookup (an import checking a million
    /// repeated ids looks up a record per line: no open and close each time).
    func reader() throws -> FileDescriptor {
        if let fd = readFD { return fd }
        let fd = try StorageError.wrapping { try FileDescriptor.open(path, O_RDONLY) }
        readFD = fd
        return fd
    }

    public var recordCount: UInt64 { lastPosition &- base &+ 1 }

    /// The index file opened for reading on first use and kept (nil when it is missing).
    func indexReader() throws -> FileDescriptor? {
        if indexFD == nil { indexFD = try StorageError.wrapping { try FileDescriptor.openIfExists(indexPath, O_RDONLY) } }
        return indexFD
    }

    /// The first record's timestamp as the index's first entry gives it (its CRC and position
    /// checked), read without checking the segment: what a search by time needs of the sealed
    /// segments it only passes over. nil when that entry is missing or damaged.
    func firstTimestampFromIndex() throws -> Int64? {
        guard let fd = try indexReader(), let entry = try indexEntryFromDisk(0, limit: Int.max, fd: fd),
              entry.position == base, entry.offset == UInt64(RecordFormat.segmentHeaderBytes) else { return nil }
        return entry.timestampMicros
    }

    /// The index entry of `position`, checked against its CRC and position; nil if the on-disk entry is bad.
    func indexEntry(_ position: UInt64) throws -> IndexEntry? {
        let i = Int(position - base)
        if i >= indexEntriesOnDisk {
            let j = i - indexEntriesOnDisk
            return j < indexEntriesInMemory.count ? indexEntriesInMemory[j] : nil
        }
        guard let fd = try indexReader() else { return nil }
        var raw = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        let n = try withUnsafeMutableBytes(of: &raw) { buf in
            try StorageError.wrapping { try fd.read(into: buf, at: i * RecordFormat.indexEntryBytes) }
        }
        guard n == RecordFormat.indexEntryBytes else { return nil }
        guard let entry = withUnsafeBytes(of: &raw, { IndexEntry.decode($0.baseAddress!) }), entry.position == position,
              entry.offset >= UInt64(RecordFormat.segmentHeaderBytes),
              entry.offset <= UInt64(committedBytes), UInt64(entry.frameBytes) <= UInt64(committedBytes) - entry.offset else { return nil }
        return entry
    }

    /// Replaces the index with entries rebuilt from the segment itself.
    func useRebuiltIndex(_ entries: [IndexEntry]) {
        indexEntriesOnDisk = 0
        indexEntriesInMemory = entries
        indexFD?.close()
        indexFD = nil
    }

    func markIndexOnDisk() {
        indexEntriesOnDisk += indexEntriesInMemory.count
        indexEntriesInMemory = []
        indexFD?.close()
        indexFD = nil
    }
}

public final class Log {
    public let directory: String
    public internal(set) var segments: [Segment] = []
    public internal(set) var head: LogHead = .empty
    public internal(set) var notes: [StorageNote] = [] {
        didSet { if let onNote, notes.count > oldValue.count { notes[oldValue.count...].forEach(onNote) } }
    }
    /// Told of each note added after it is set (a reader's log notes things as it is read).
    public var onNote: ((StorageNote) -> Void)?
    let repair: Bool
    /// Whether the caller holds the writer lock. Without it, an unindexed or partial tail in the
    /// last segment is a writer mid-append, normal and not worth a note.
    let lockHeld: Bool

    /// Whether sealed segments are checked when first used rather than all on open.
    let checksSealedOnUse: Bool
    /// For a reader: whether a writer holds the lock now (asked only when the last segment ends
    /// in a batch that is not complete). If one does, that tail is its work in progress (a batch
    /// being appended, an import's staged batches): the reader stops at the last complete batch
    /// without searching the rest of the file for a commit record (recovery rule 3), which the
    /// writer, or the next one, applies. Nil: always search (and report corruption if found).
    let writerAtWork: (() -> Bool)?

    init(directory: String, repair: Bool, lockHeld: Bool, checksSealedOnUse: Bool = false, writerAtWork: (() -> Bool)? = nil) {
        self.directory = directory
        self.repair = repair
        self.lockHeld = lockHeld
        self.checksSealedOnUse = checksSealedOnUse
        self.writerAtWork = writerAtWork
    }

    /// Opens the log for reading: finds the committed head without changing any file.
    /// A missing directory is an empty log. Only the last segment is opened (where a crash can
    /// leave a torn tail); a sealed one is checked (header, final commit record, index) when a
    /// read first needs it, so opening costs the same however long the history. `allSegments`
    /// checks every one now (verify, info). `writerAtWork`: see Log.writerAtWork (a reader
    /// passes StoreLock.isHeld of the store's lock file).
    public static func open(directory: String, lockHeld: Bool = false, allSegments: Bool = false,
                            writerAtWork: (() -> Bool)? = nil) throws -> Log {
        let log = Log(directory: directory, repair: false, lockHeld: lockHeld, checksSealedOnUse: !allSegments,
                      writerAtWork: lockHeld ? nil : writerAtWork)
        try LogOpener(log: log).run()
        return log
    }

    /// Segment `si`, its files checked first if that was left for its first use.
    func checked(_ si: Int) throws -> Segment {
        let segment = segments[si]
        if segment.unchecked { try LogOpener(log: self).checkSealed(segment) }
        return segment
    }

    // MARK: Reading

    /// Visits committed records in order from `position` through `last` (inclusive, capped at the head).
    /// The visitor returns false to stop early.
    public func forEach(from position: UInt64, through last: UInt64 = .max,
                        _ visit: (StoredRecord) throws -> Bool) throws {
        try forEachBatch(from: position, through: last) { batch in
            for record in batch where try !visit(record) { return false }
            return true
        }
    }

    /// `forEach` a committed batch at a time (the first and last trimmed to the range asked for).
    public func forEachBatch(from position: UInt64, through last: UInt64 = .max,
                             _ visit: (RecordBatch) throws -> Bool) throws {
        try forEachBatch(from: position, through: last) { batch, _ in try visit(batch) }
    }

    /// `forEachBatch` read in place from mapped windows of the segments: each batch comes with
    /// the window it lies in, which keeps its bytes valid for as long as it is held (a reader
    /// that hands batches to another thread holds it instead of copying them).
    public func forEachMappedBatch(from position: UInt64, through last: UInt64 = .max, windowBytes: Int = Limits.mapWindowBytes,
                                   _ visit: (RecordBatch, MappedRegion) throws -> Bool) throws {
        try forEachBatch(from: position, through: last, mapWindowBytes: windowBytes) { batch, region in try visit(batch, region!) }
    }

    /// Read into a buffer, or with `mapWindowBytes` from mapped windows of that size.
    private func forEachBatch(from position: UInt64, through last: UInt64, mapWindowBytes: Int? = nil,
                              _ visit: (RecordBatch, MappedRegion?) throws -> Bool) throws {
        try forEachSegmentRead(from: position, through: last) { piece, stop in
            try !piece.scan(through: stop, mapWindowBytes: mapWindowBytes, visit)
        }
    }

    /// The segments a read of `position` through `last` (capped at the head) covers, in order,
    /// each checked and sought when the read reaches it (a reader that stops early, `body`
    /// returning false, never pays for the segments after), with the last position to read.
    private func forEachSegmentRead(from position: UInt64, through last: UInt64, _ body: (SegmentRead, UInt64) throws -> Bool) throws {
        let first = max(position, RecordFormat.firstPosition)
        let stop = min(last, head.position)
        guard first <= stop, var si = segmentIndex(containing: first) else { return }
        var seekTo: UInt64? = first
        while si < segments.count {
            let piece = try segmentRead(si, seekingTo: seekTo)
            si += 1
            seekTo = nil
            guard let piece else { continue }
            if try !body(piece, stop) || piece.lastPosition >= stop { return }
        }
    }

    /// Where a read of segment `si` starts: at `target`'s index entry when it lies in the
    /// segment and the entry is sound (else at the segment's start, noted, skipping the records
    /// before it); nil when the segment holds no record.
    private func segmentRead(_ si: Int, seekingTo target: UInt64?) throws -> SegmentRead? {
        let segment = try checked(si)
        guard segment.recordCount > 0 else { return nil }
        var startOffset = RecordFormat.segmentHeaderBytes
        var startPosition = segment.base
        if let target, target > segment.base {
            if let entry = try segment.indexEntry(target), try frameBytes(segment, entry) != nil {
                startOffset = Int(entry.offset)
                startPosition = target
            } else {
                notes.append(.indexRebuilt(segment: segment.name, reason: "entry for position \(target) is damaged; scanned the segment instead"))
            }
        }
        return SegmentRead(name: segment.name, path: segment.path, committedBytes: segment.committedBytes, lastPosition: segment.lastPosition,
                           startOffset: startOffset, startPosition: startPosition, skipBelow: target ?? 0)
    }

    /// A read of positions `position` through `last` (capped at the head), worked out before any
    /// record is read: every segment it covers checked, its start found through the index. A plan
    /// uses nothing of the log's after that, so plans of disjoint ranges can be read on threads
    /// of their own at once (a fold split into parts), while the log is not used otherwise.
    public func readPlan(from position: UInt64, through last: UInt64 = .max) throws -> ReadPlan {
        var pieces: [SegmentRead] = []
        let stop = min(last, head.position)
        try forEachSegmentRead(from: position, through: stop) { piece, _ in
            pieces.append(piece)
            return true
        }
        // The bytes end with the last record's frame, found through the index when its entry is
        // sound (and the frame there is that record, whole).
        if let end = pieces.last, end.lastPosition > stop, let si = segmentIndex(containing: stop) {
            let segment = try checked(si)
            if let entry = try segment.indexEntry(stop), let bytes = try frameBytes(segment, entry) {
                pieces[pieces.count - 1].endOffset = Int(entry.offset) + bytes
            }
        }
        return ReadPlan(pieces: pieces, last: stop)
    }

    /// The committed record at `position`, read through the index with one pread and checked
    /// by its own CRC (a lookup, unlike forEach, which reads whole batches). Falls back to a
    /// scan when the index entry is damaged. The visitor sees it while its bytes are valid.
    public func withRecord<T>(at position: UInt64, _ body: (StoredRecord) throws -> T) throws -> T? {
        guard position >= 1, position <= head.position, let si = segmentIndex(containing: position) else { return nil }
        let segment = try checked(si)
        if let entry = try segment.indexEntry(position), entry.frameBytes >= UInt32(RecordFormat.frameHeaderBytes + RecordFormat.bodyHeaderBytes) {
            let fd = try segment.reader()
            let bytes = try StorageError.wrapping { try fd.read(count: Int(entry.frameBytes), at: Int(entry.offset)) }
            let found: T?? = try bytes.withUnsafeBytes { raw in
                let p = raw.baseAddress!
                guard case .valid(let frameBytes) = Frame.check(p, available: raw.count), frameBytes == raw.count,
                      Frame.position(p) == position else { return nil }
                return .some(try body(StoredRecord(frame: p, frameBytes: frameBytes)))
            }
            if let found { return found }
        }
        var result: T?
        try forEach(from: position, through: position) { result = try body($0); return false }
        return result
    }

    /// The last position whose timestamp is ≤ `timestampMicros`; 0 when every record is later.
    public func lastPosition(atOrBefore timestampMicros: Int64) throws -> UInt64 {
        let filled = segments.indices.filter { segments[$0].recordCount > 0 }
        // Last segment whose first record is at or before the time. A sealed segment not checked
        // yet is only asked for its index's first entry: opening it whole (header, commit record,
        // index ends) for each probe made a query's cost grow with the number of segments.
        func firstTimestamp(_ si: Int) throws -> Int64 {
            if segments[si].unchecked, let micros = try segments[si].firstTimestampFromIndex() { return micros }
            let segment = try checked(si)
            return try timestamp(of: segment.base, in: segment)
        }
        var lo = 0
        var hi = filled.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if try firstTimestamp(filled[mid]) <= timestampMicros { lo = mid + 1 } else { hi = mid }
        }
        guard lo > 0 else { return 0 }
        let segment = try checked(filled[lo - 1])
        return try lastPosition(atOrBefore: timestampMicros, in: segment)
    }

    /// The last position in `segment` (whose first record is at or before the time) with timestamp
    /// ≤ time. Timestamps never decrease, and mostly grow evenly, so the next position read is
    /// guessed from the times at both ends of the range (interpolation): about four index reads
    /// for a million records where bisection needs twenty, each a page of a large index that a
    /// fresh process may not find in memory. A guess that does not halve the range is followed by
    /// a bisection step, so uneven times cost at most about twice bisection's reads.
    private func lastPosition(atOrBefore time: Int64, in segment: Segment) throws -> UInt64 {
        // Invariant: timestamp(lo) ≤ time < timestamp(hi).
        var lo = segment.base, hi = segment.lastPosition
        var loTime = try timestamp(of: lo, in: segment), hiTime = try timestamp(of: hi, in: segment)
        if hiTime <= time { return hi }
        var interpolate = true
        while hi - lo > 1 {
            let span = hi - lo
            var mid = lo + span / 2
            if interpolate, hiTime > loTime {
                let fraction = (Double(time) - Double(loTime)) / (Double(hiTime) - Double(loTime))
                mid = lo + UInt64(max(0, min(Double(span), fraction * Double(span))))
                mid = min(max(mid, lo + 1), hi - 1)
            }
            let midTime = try timestamp(of: mid, in: segment)
            if midTime <= time { (lo, loTime) = (mid, midTime) } else { (hi, hiTime) = (mid, midTime) }
            interpolate = !interpolate || (hi - lo) * 2 <= span
        }
        return lo
    }

    /// The timestamp of a committed position, through the index.
    public func timestamp(ofPosition position: UInt64) throws -> Int64? {
        guard position >= 1, position <= head.position, let si = segmentIndex(containing: position) else { return nil }
        return try timestamp(of: position, in: checked(si))
    }

    private func timestamp(of position: UInt64, in segment: Segment) throws -> Int64 {
        if let entry = try segment.indexEntry(position) { return entry.timestampMicros }
        // A damaged entry: rebuild this segment's index in memory and answer from it.
        let entries = try LogOpener.scanEntries(of: segment, previousChain: nil).entries
        segment.useRebuiltIndex(entries)
        notes.append(.indexRebuilt(segment: segment.name, reason: "entry for position \(position) is damaged"))
        guard let entry = try segment.indexEntry(position) else {
            throw StorageError.corruptRecord(segment: segment.name, offset: 0, position: position, reason: "position missing from segment")
        }
        return entry.timestampMicros
    }

    /// The chain value recorded by the commit record right after `position`, or nil when
    /// `position` is not the end of a batch.
    public func chain(atBatchEnd position: UInt64) throws -> [UInt8]? {
        guard position >= 1, position <= head.position, let si = segmentIndex(containing: position) else { return nil }
        let segment = try checked(si)
        guard let entry = try segment.indexEntry(position) else { return nil }
        let fd = try segment.reader()
        guard let commit = try LogOpener.commitAt(fd, offset: Int(entry.offset) + Int(entry.frameBytes), limit: segment.committedBytes),
              commit.position == position else { return nil }
        return commit.chain
    }

    func segmentIndex(containing position: UInt64) -> Int? {
        var lo = 0
        var hi = segments.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if segments[mid].base <= position { lo = mid + 1 } else { hi = mid }
        }
        return lo == 0 ? nil : lo - 1
    }

    /// The size of the frame at `entry`'s offset when it is a sound frame of `entry`'s record,
    /// else nil (the entry is not to be trusted).
    func frameBytes(_ segment: Segment, _ entry: IndexEntry) throws -> Int? {
        guard let frame = try LogOpener.frameAt(try segment.reader(), offset: Int(entry.offset), limit: segment.committedBytes),
              frame.position == entry.position else { return nil }
        return frame.frameBytes
    }
}
