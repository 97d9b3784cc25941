// Finds the committed head of the log. The recovery rule lives here:
// a bad batch followed by nothing committed is a torn tail (cut back when
// repairing, ignored when only reading); a bad batch followed by a good commit
// record, or any damage in a segment that is not the last, is corruption and
// is reported with segment, byte offset and position.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

struct LogOpener {
    let log: Log

    func run() throws {
        guard FileSystem.isDirectory(log.directory) else { return }
        let names = try StorageError.wrapping { try FileSystem.list(log.directory) }
        // A segment an import was staging when it stopped: it never held a committed batch.
        if log.repair {
            for name in names where name.hasPrefix(StagedAppend.stagingPrefix) {
                let path = log.directory + "/" + name
                let bytes = FileSystem.fileSize(path) ?? 0
                if (try? FileSystem.remove(path)) != nil { log.notes.append(.stagedFileRemoved(name: name, bytes: bytes)) }
            }
        }
        let bases = names.compactMap(RecordFormat.basePosition(ofSegmentName:)).sorted()
        var head = LogHead.empty
        for (i, base) in bases.enumerated() {
            let segment = Segment(base: base, directory: log.directory)
            if base != head.position + 1 {
                throw StorageError.missingSegment(afterPosition: head.position, found: segment.name)
            }
            log.segments.append(segment)
            if i < bases.count - 1 && log.checksSealedOnUse {
                // Its last position is the next one's base - 1 (checkSealed confirms it on first use);
                // its commit (timestamp, chain) is read only if the last segment needs it.
                segment.lastPosition = bases[i + 1] - 1
                segment.unchecked = true
                head = LogHead(position: segment.lastPosition, timestampMicros: Int64.min, chain: [])
                continue
            }
            let fd = try StorageError.wrapping { try FileDescriptor.open(segment.path, log.repair ? O_RDWR : O_RDONLY) }
            defer { fd.close() }
            if i < bases.count - 1 {
                head = try openSealed(segment, fd, previous: head)
            } else {
                // The previous segment's commit (its chain and timestamp) is read only if needed.
                let before = head
                let previous = i > 0 && log.segments[i - 1].unchecked ? log.segments[i - 1] : nil
                head = try openLast(segment, fd, previousPosition: before.position) {
                    if let previous { return try checkSealed(previous) }
                    return before
                }
            }
        }
        log.head = head
    }

    // MARK: Sealed segments (not the last): must end with a commit record, exactly.

    /// Checks a sealed segment left for its first use; returns the head at its end. On failure the
    /// segment stays unchecked, as it was, so that every later read fails the same way.
    @discardableResult
    func checkSealed(_ segment: Segment) throws -> LogHead {
        let expected = segment.lastPosition
        do {
            // Not kept open: a read of every segment (replay, export, verify) checks each, and
            // a descriptor or two kept per segment would run out on a long log.
            let fd = try StorageError.wrapping { try FileDescriptor.open(segment.path, O_RDONLY) }
            defer { fd.close() }
            let head = try openSealed(segment, fd, previous: LogHead(position: segment.base - 1, timestampMicros: Int64.min, chain: []))
            if head.position < expected {
                throw StorageError.missingSegment(afterPosition: head.position, found: RecordFormat.segmentName(base: expected + 1))
            }
            guard head.position == expected else {
                throw StorageError.corruptRecord(segment: segment.name, offset: segment.committedBytes, position: head.position,
                                                 reason: "sealed segment ends at position \(head.position), but the next segment starts at \(expected + 1)")
            }
            segment.unchecked = false
            return head
        } catch {
            segment.lastPosition = expected
            segment.committedBytes = RecordFormat.segmentHeaderBytes
            throw error
        }
    }

    private func openSealed(_ segment: Segment, _ fd: FileDescriptor, previous: LogHead) throws -> LogHead {
        let size = try StorageError.wrapping { try fd.size() }
        let header = try StorageError.wrapping { try fd.read(count: RecordFormat.segmentHeaderBytes, at: 0) }
        if let problem = SegmentHeader.problem(header, segment: segment.name, expectedBase: segment.base) { throw problem }
        guard size >= RecordFormat.segmentHeaderBytes + RecordFormat.commitFrameBytes,
              let commit = try Self.commitAt(fd, offset: size - RecordFormat.commitFrameBytes, limit: size),
              Self.plausible(commit, in: segment, size: size) else {
            throw StorageError.corruptRecord(segment: segment.name, offset: max(0, size - RecordFormat.commitFrameBytes),
                                             position: previous.position + 1, reason: "sealed segment does not end with a commit record")
        }
        segment.lastPosition = commit.position
        segment.committedBytes = size
        if let reason = try indexProblem(segment, fd) {
            let entries = try Self.scanEntries(of: segment, previousChain: nil).entries
            segment.useRebuiltIndex(entries)
            try persistIndex(segment, rewrite: true)
            log.notes.append(.indexRebuilt(segment: segment.name, reason: reason))
        } else {
            segment.indexEntriesOnDisk = Int(segment.recordCount)
        }
        return LogHead(position: commit.position, timestampMicros: commit.timestampMicros, chain: commit.chain)
    }

    // MARK: The last segment: where a crash can leave a torn tail.

    private func openLast(_ segment: Segment, _ fd: FileDescriptor, previousPosition: UInt64, previousHead: () throws -> LogHead) throws -> LogHead {
        // The head at the end of the segments before, asked for only when this one cannot say.
        var known: LogHead?
        func previous() throws -> LogHead {
            if let known { return known }
            let head = try previousHead()
            known = head
            return head
        }
        let size = try StorageError.wrapping { try fd.size() }
        let header = try StorageError.wrapping { try fd.read(count: RecordFormat.segmentHeaderBytes, at: 0) }
        if let problem = SegmentHeader.problem(header, segment: segment.name, expectedBase: segment.base) {
            let scanner = SegmentScanner(fd: fd, name: segment.name, endOffset: size)
            if case .formatTooNew = problem { throw problem }
            if size > RecordFormat.segmentHeaderBytes, try scanner.validCommitExists(after: 0, minPosition: segment.base) { throw problem }
            // A segment whose creation was torn: it never held a committed batch.
            if log.repair {
                try StorageError.wrapping {
                    try fd.truncate(to: 0)
                    try fd.writeAll(SegmentHeader.encode(base: segment.base), at: 0)
                    try fd.syncData()
                    try FileDescriptor.open(segment.indexPath, O_WRONLY | O_CREAT).truncateAndClose(to: 0)
                }
            }
            if log.repair || log.lockHeld {
                var reason = "\(problem)"
                if case .corruptSegmentHeader(_, let why) = problem { reason = why }
                log.notes.append(.creationTorn(segment: segment.name, reason: reason, repaired: log.repair))
            }
            segment.committedBytes = RecordFormat.segmentHeaderBytes
            return try previous()
        }

        // Fast path: the file ends with a commit record and the index already ends at it.
        if size >= RecordFormat.segmentHeaderBytes + RecordFormat.commitFrameBytes,
           let commit = try Self.commitAt(fd, offset: size - RecordFormat.commitFrameBytes, limit: size),
           Self.plausible(commit, in: segment, size: size), commit.position > previousPosition {
            segment.lastPosition = commit.position
            segment.committedBytes = size
            if try indexProblem(segment, fd) == nil {
                segment.indexEntriesOnDisk = Int(segment.recordCount)
                return LogHead(position: commit.position, timestampMicros: commit.timestampMicros, chain: commit.chain)
            }
        }

        // Slow path: scan from the last good index entry (or the start) to the end.
        segment.lastPosition = segment.base &- 1
        segment.committedBytes = size
        let indexCount = try indexEntryCount(segment)
        var trusted = 0
        var start: IndexEntry?
        if indexCount > 0, let first = try segment.indexEntryFromDisk(0, limit: size),
           first.position == segment.base, first.offset == UInt64(RecordFormat.segmentHeaderBytes),
           let last = try segment.indexEntryFromDisk(indexCount - 1, limit: size),
           last.position == segment.base + UInt64(indexCount - 1),
           try Self.frameAt(fd, offset: Int(last.offset), limit: size)?.position == last.position {
            start = last
            trusted = indexCount - 1
        }
        let scanner = SegmentScanner(fd: fd, name: segment.name, endOffset: size)
        var collected: [IndexEntry] = []
        func scan(from entry: IndexEntry?) throws -> (ScanState, ScanStop) {
            collected = []
            var state = ScanState(nextPosition: entry?.position ?? segment.base,
                                  lastTimestampMicros: entry == nil ? try previous().timestampMicros : Int64.min,
                                  chain: entry == nil ? try previous().chain : nil, verifyChain: true,
                                  committedEnd: RecordFormat.segmentHeaderBytes)
            let stop = try scanner.scan(from: entry.map { Int($0.offset) } ?? RecordFormat.segmentHeaderBytes,
                                        state: &state, partialFirstBatch: entry != nil) { record, offset, frameBytes in
                collected.append(IndexEntry(position: record.position, timestampMicros: record.timestampMicros,
                                            offset: UInt64(offset), frameBytes: UInt32(frameBytes)))
                return true
            }
            return (state, stop)
        }
        let (state, stop) = try scan(from: start)
        if case .damaged(let batchOffset, let offset, let position, let reason) = stop {
            // An index entry is written only after its batch's fdatasync, so damage at or before
            // an indexed position is damage to an acknowledged batch, never a torn write.
            let acknowledged = start.map { state.nextPosition <= $0.position } ?? false
            // A reader that finds a writer at work leaves the rest of the file to it (Log.writerAtWork).
            let inProgress = !log.repair && log.writerAtWork?() == true
            if try acknowledged || (!inProgress && scanner.validCommitExists(after: batchOffset, minPosition: state.nextPosition)) {
                throw StorageError.corruptRecord(segment: segment.name, offset: offset, position: position, reason: reason)
            }
            try cutTail(segment, fd, offset: batchOffset, size: size, reason: "\(reason) at byte offset \(offset)")
        }
        segment.committedBytes = state.committedEnd
        segment.lastPosition = state.nextPosition - 1
        if indexCount != trusted + collected.count || start == nil && !collected.isEmpty && indexCount > 0 {
            let reason = indexCount > trusted + collected.count ? "longer than the segment (\(indexCount) entries for \(trusted + collected.count) records)"
                : start == nil ? "missing or damaged (\(indexCount) entries found)"
                : "short by \(trusted + collected.count - indexCount) entries"
            if log.lockHeld { log.notes.append(.indexRebuilt(segment: segment.name, reason: reason)) }
        }
        segment.indexEntriesOnDisk = trusted
        segment.indexEntriesInMemory = collected
        try persistIndex(segment, rewrite: false)
        if state.batchesCommitted == 0 { return try previous() }
        return LogHead(position: segment.lastPosition, timestampMicros: state.lastTimestampMicros, chain: try state.chain ?? previous().chain)
    }

    private func cutTail(_ segment: Segment, _ fd: FileDescriptor, offset: Int, size: Int, reason: String) throws {
        guard size > offset else { return }
        if log.repair {
            try StorageError.wrapping {
                try fd.truncate(to: offset)
                try fd.syncData()
            }
            log.notes.append(.tailCut(segment: segment.name, offset: offset, bytes: size - offset, reason: reason))
        } else if log.lockHeld {
            log.notes.append(.tailIgnored(segment: segment.name, offset: offset, bytes: size - offset, reason: reason))
        }
    }

    // MARK: Index checks and repair

    private func indexEntryCount(_ segment: Segment) throws -> Int {
        guard let fd = try StorageError.wrapping({ try FileDescriptor.openIfExists(segment.indexPath, O_RDONLY) }) else { return 0 }
        defer { fd.close() }
        return try StorageError.wrapping { try fd.size() } / RecordFormat.indexEntryBytes
    }

    /// Cheap agreement check: size, first and last entries, and the last entry's frame.
    private func indexProblem(_ segment: Segment, _ segmentFD: FileDescriptor) throws -> String? {
        guard let fd = try StorageError.wrapping({ try FileDescriptor.openIfExists(segment.indexPath, O_RDONLY) }) else { return "index file missing" }
        defer { fd.close() }
        let size = try StorageError.wrapping { try fd.size() }
        let count = Int(segment.recordCount)
        if size != count * RecordFormat.indexEntryBytes {
            return size < count * RecordFormat.indexEntryBytes
                ? "index is short (\(size) bytes for \(count) records)"
                : "index is longer than the segment (\(size) bytes for \(count) records)"
        }
        guard count > 0 else { return nil }
        for i in [0, count - 1] {
            guard let entry = try segment.indexEntryFromDisk(i, limit: segment.committedBytes, fd: fd),
                  entry.position == segment.base + UInt64(i) else { return "index entry \(i) is damaged" }
            if i == 0 && entry.offset != UInt64(RecordFormat.segmentHeaderBytes) { return "index entry 0 has the wrong offset" }
            if i == count - 1, try Self.frameAt(segmentFD, offset: Int(entry.offset), limit: segment.committedBytes)?.position != entry.position {
                return "last index entry does not point at its record"
            }
        }
        return nil
    }

    /// Writes the in-memory index entries to disk when repairing; the index is never fsynced (it is derived).
    private func persistIndex(_ segment: Segment, rewrite: Bool) throws {
        guard log.repair else { return }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(segment.indexEntriesInMemory.count * RecordFormat.indexEntryBytes)
        for entry in segment.indexEntriesInMemory { entry.append(to: &bytes) }
        try StorageError.wrapping {
            if rewrite {
                try AtomicFile.write(bytes, to: segment.indexPath)
            } else {
                let fd = try FileDescriptor.open(segment.indexPath, O_RDWR | O_CREAT)
                defer { fd.close() }
                let keep = segment.indexEntriesOnDisk * RecordFormat.indexEntryBytes
                if try fd.size() != keep || !bytes.isEmpty {
                    try fd.truncate(to: keep)
                    try fd.writeAll(bytes, at: keep)
                }
            }
        }
        segment.markIndexOnDisk()
    }

    // MARK: Shared helpers

    struct Commit {
        let position: UInt64
        let timestampMicros: Int64
        let chain: [UInt8]
    }

    /// A segment of `size` bytes holds at most size / (smallest frame) records: a commit record
    /// claiming more was damaged (or forged) and is not believed.
    static func plausible(_ commit: Commit, in segment: Segment, size: Int) -> Bool {
        let smallestFrame = UInt64(RecordFormat.frameHeaderBytes + RecordFormat.bodyHeaderBytes)
        return commit.position >= segment.base && commit.position - segment.base < UInt64(size) / smallestFrame
    }

    /// The commit record at `offset`, or nil if the bytes there are not one.
    static func commitAt(_ fd: FileDescriptor, offset: Int, limit: Int) throws -> Commit? {
        guard offset >= 0, offset + RecordFormat.commitFrameBytes <= limit else { return nil }
        let bytes = try StorageError.wrapping { try fd.read(count: RecordFormat.commitFrameBytes, at: offset) }
        return bytes.withUnsafeBytes { raw -> Commit? in
            let p = raw.baseAddress!
            guard case .valid(let fb) = Frame.check(p, available: raw.count), Frame.isCommit(p, frameBytes: fb) else { return nil }
            return Commit(position: Frame.position(p), timestampMicros: Frame.timestamp(p), chain: Frame.commit(p).chain)
        }
    }

    /// The position and timestamp of the valid frame at `offset`, or nil.
    static func frameAt(_ fd: FileDescriptor, offset: Int, limit: Int) throws -> (position: UInt64, timestampMicros: Int64, frameBytes: Int)? {
        guard offset >= RecordFormat.segmentHeaderBytes, offset + RecordFormat.frameHeaderBytes <= limit else { return nil }
        let head = try StorageError.wrapping { try fd.read(count: RecordFormat.frameHeaderBytes, at: offset) }
        guard head.count == RecordFormat.frameHeaderBytes else { return nil }
        let bodyBytes = Int(head.withUnsafeBytes { LE.u32($0.baseAddress!, 0) })
        guard bodyBytes <= Limits.recordBodyBytesMax, offset + 8 + bodyBytes <= limit else { return nil }
        let bytes = try StorageError.wrapping { try fd.read(count: 8 + bodyBytes, at: offset) }
        return bytes.withUnsafeBytes { raw in
            let p = raw.baseAddress!
            guard case .valid(let frameBytes) = Frame.check(p, available: raw.count) else { return nil }
            return (Frame.position(p), Frame.timestamp(p), frameBytes)
        }
    }

    /// Every index entry of a committed segment, from a full scan of it.
    static func scanEntries(of segment: Segment, previousChain: [UInt8]?) throws -> (entries: [IndexEntry], state: ScanState) {
        let fd = try StorageError.wrapping { try FileDescriptor.open(segment.path, O_RDONLY) }
        defer { fd.close() }
        let scanner = SegmentScanner(fd: fd, name: segment.name, endOffset: segment.committedBytes)
        var state = ScanState(nextPosition: segment.base, lastTimestampMicros: Int64.min, chain: previousChain,
                              verifyChain: previousChain != nil, committedEnd: RecordFormat.segmentHeaderBytes)
        var entries: [IndexEntry] = []
        let stop = try scanner.scan(from: RecordFormat.segmentHeaderBytes, state: &state) { record, offset, frameBytes in
            entries.append(IndexEntry(position: record.position, timestampMicros: record.timestampMicros,
                                      offset: UInt64(offset), frameBytes: UInt32(frameBytes)))
            return true
        }
        if case .damaged(_, let offset, let position, let reason) = stop {
            throw StorageError.corruptRecord(segment: segment.name, offset: offset, position: position, reason: reason)
        }
        return (entries, state)
    }
}

extension FileDescriptor {
    func truncateAndClose(to size: Int) throws {
        defer { close() }
        try truncate(to: size)
    }
}

extension Segment {
    /// The on-disk entry at index `i` (CRC-checked, pointing inside `limit`), ignoring what is trusted.
    func indexEntryFromDisk(_ i: Int, limit: Int, fd given: FileDescriptor? = nil) throws -> IndexEntry? {
        let fd: FileDescriptor
        if let given { fd = given } else {
            guard let opened = try StorageError.wrapping({ try FileDescriptor.openIfExists(indexPath, O_RDONLY) }) else { return nil }
            fd = opened
        }
        defer { if given == nil { fd.close() } }
        let bytes = try StorageError.wrapping { try fd.read(count: RecordFormat.indexEntryBytes, at: i * RecordFormat.indexEntryBytes) }
        guard bytes.count == RecordFormat.indexEntryBytes,
              let entry = bytes.withUnsafeBytes({ IndexEntry.decode($0.baseAddress!) }),
              entry.offset >= UInt64(RecordFormat.segmentHeaderBytes),
              entry.offset <= UInt64(limit), UInt64(entry.frameBytes) <= UInt64(limit) - entry.offset else { return nil }
        return entry
    }
}
