// Full check of the log: every frame's CRC, dense positions, monotonic
// timestamps, every index entry against its record, and the SHA-256 hash chain
// from genesis. Collects problems instead of stopping at the first one.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

public struct LogVerifyReport {
    public var segments = 0
    public var records: UInt64 = 0
    public var batches = 0
    public var bytes = 0
    public var head = LogHead.empty
    /// Each one line naming file, byte offset and position.
    public var problems: [String] = []
    public var notes: [String] = []
    /// Set when an expected head was given and the chain value there matched.
    public var expectedHeadMatched: Bool?
    public var isSound: Bool { problems.isEmpty && expectedHeadMatched != false }
}

public enum LogVerifier {
    /// Verifies the log in `directory`. `expectHead` is (position, chain) kept from an earlier `info`.
    public static func verify(directory: String, expectHead: (UInt64, [UInt8])? = nil,
                              progress: ((UInt64, UInt64) -> Void)? = nil) throws -> LogVerifyReport {
        var report = LogVerifyReport()
        let log: Log
        do {
            log = try Log.open(directory: directory, lockHeld: true, allSegments: true)
        } catch let error as StorageError where error.isIntegrityFailure {
            report.problems.append(error.description)
            return report
        }
        report.notes = log.notes.map(\.description)
        report.head = log.head
        report.segments = log.segments.count
        var chain: [UInt8]? = LogHead.genesisChain
        var lastTimestamp = Int64.min
        // Last batch end whose chain value was recomputed from genesis; nil once the chain broke.
        var verifiedThrough: UInt64? = 0
        if let (position, hash) = expectHead, position == 0 { report.expectedHeadMatched = hash == LogHead.genesisChain }

        for segment in log.segments {
            report.bytes += segment.committedBytes
            let fd = try StorageError.wrapping { try FileDescriptor.open(segment.path, O_RDONLY) }
            defer { fd.close() }
            let header = try StorageError.wrapping { try fd.read(count: RecordFormat.segmentHeaderBytes, at: 0) }
            if let problem = SegmentHeader.problem(header, segment: segment.name, expectedBase: segment.base) {
                // The opener accepted it as the last segment's torn creation (no committed batch
                // after it, noted as an ignored tail): what a crash leaves, not damage.
                if segment === log.segments.last && segment.recordCount == 0 { continue }
                report.problems.append(problem.description)
                chain = nil
                verifiedThrough = nil
                continue
            }
            let indexBytes = try StorageError.wrapping { try AtomicFile.read(segment.indexPath) } ?? []
            var indexProblems = 0
            var state = ScanState(nextPosition: segment.base, lastTimestampMicros: lastTimestamp, chain: chain,
                                  verifyChain: chain != nil, committedEnd: RecordFormat.segmentHeaderBytes)
            let scanner = SegmentScanner(fd: fd, name: segment.name, endOffset: segment.committedBytes)
            let verifying = chain != nil && verifiedThrough != nil
            let stop = try scanner.scan(from: RecordFormat.segmentHeaderBytes, state: &state) { record, offset, frameBytes in
                let i = Int(record.position - segment.base)
                let expected = IndexEntry(position: record.position, timestampMicros: record.timestampMicros,
                                          offset: UInt64(offset), frameBytes: UInt32(frameBytes))
                let at = i * RecordFormat.indexEntryBytes
                let found = at + RecordFormat.indexEntryBytes <= indexBytes.count
                    ? indexBytes.withUnsafeBytes { IndexEntry.decode($0.baseAddress! + at) } : nil
                if found != expected { indexProblems += 1 }
                progress?(record.position, log.head.position)
                return true
            } batchDone: { last, batchChain in
                // While the chain is verified from genesis, this value is the recomputed one.
                guard verifying else { return }
                if let (position, expected) = expectHead, position == last {
                    report.expectedHeadMatched = batchChain == expected
                }
                verifiedThrough = last
            }
            report.records += segment.recordCount
            report.batches += state.batchesCommitted
            if case .damaged(_, let offset, let position, let reason) = stop {
                report.problems.append(StorageError.corruptRecord(segment: segment.name, offset: offset, position: position, reason: reason).description)
                chain = nil
                verifiedThrough = nil
            } else {
                chain = state.chain
                if let c = chain, segment.recordCount > 0, state.nextPosition - 1 != segment.lastPosition || c != log.head.chain && segment === log.segments.last {
                    report.problems.append("\(segment.name): committed end disagrees with the scan")
                }
            }
            lastTimestamp = state.lastTimestampMicros
            if indexBytes.count != Int(segment.recordCount) * RecordFormat.indexEntryBytes || indexProblems > 0 {
                report.notes.append("\(RecordFormat.indexName(base: segment.base)): \(indexProblems) entries disagree with the segment, \(indexBytes.count / RecordFormat.indexEntryBytes) entries for \(segment.recordCount) records; it is rebuilt on the next write")
            }
        }
        if let (position, expected) = expectHead, position > 0 {
            if position > log.head.position {
                report.problems.append(StorageError.positionBeyondHead(position: position, head: log.head.position).description)
                report.expectedHeadMatched = false
            } else if report.expectedHeadMatched == nil {
                report.problems.append((verifiedThrough ?? 0) < position
                    ? "cannot check the expected head: the hash chain is broken before position \(position)"
                    : StorageError.notABatchBoundary(position: position).description)
                report.expectedHeadMatched = false
            } else if report.expectedHeadMatched == false {
                report.problems.append("expected head \(position):\(Hex.encode(expected)) does not match the log: history up to position \(position) was changed")
            }
        }
        return report
    }
}
