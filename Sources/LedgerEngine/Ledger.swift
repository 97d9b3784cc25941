// The facade every command goes through. It owns the write path's order:
// lock → open log (recovering a torn tail) → load state → decide → append → fsync.

import LedgerStorage

public final class Ledger {
    public let layout: StoreLayout
    public let lockTimeoutMillis: Int
    public let clock: Clock
    /// What the commands noticed and repaired or worked around, for stderr; includes what a
    /// reader's log notices after opening (a sealed segment is checked on first use).
    public private(set) var notes: [String] = []

    public init(layout: StoreLayout, lockTimeoutMillis: Int = Limits.lockTimeoutMillisDefault, clock: Clock = .system) {
        self.layout = layout
        self.lockTimeoutMillis = lockTimeoutMillis
        self.clock = clock
    }

    func addNotes(_ more: [String]) { notes += more }

    public func config() throws -> StoreConfig { try StoreConfig.load(layout) }

    /// Sets one setting under the writer lock (so no command sees half a change).
    public func setConfig(_ key: String, to value: String) throws -> StoreConfig {
        var config = try config()
        try config.set(key, to: value)
        try LedgerError.translating { try FileSystem.makeDirectory(layout.root) }
        let lock = try LedgerError.translating { try StoreLock.acquire(layout.lockPath, timeoutMillis: lockTimeoutMillis) }
        defer { lock.release() }
        try config.save(layout)
        return config
    }

    /// Opens the log read-only (no lock): readers never block the writer.
    public func openLog(allSegments: Bool = false) throws -> Log {
        // A writer at work (an import staging its batches) owns the log's incomplete tail: a
        // reader stops before it instead of searching it for a commit record (all but verify and
        // info, which check everything).
        let lockPath = layout.lockPath
        let log = try LedgerError.translating {
            try Log.open(directory: layout.logDirectory, allSegments: allSegments,
                         writerAtWork: allSegments ? nil : { StoreLock.isHeld(lockPath) })
        }
        notes += log.notes.map(\.description)
        log.onNote = { [weak self] in self?.notes.append($0.description) }
        return log
    }

    /// Runs `body` holding the writer lock with a recovered log.
    public func withWriter<T>(_ body: (LogWriter, StoreConfig) throws -> T) throws -> T {
        try LedgerError.translating { try FileSystem.makeDirectory(layout.root) }
        let lock = try LedgerError.translating { try StoreLock.acquire(layout.lockPath, timeoutMillis: lockTimeoutMillis) }
        defer { lock.release() }
        let config = try config()
        let writer = try LedgerError.translating {
            try LogWriter(directory: layout.logDirectory, segmentBytes: config.segmentBytes, holding: lock, sealedSegmentsOnUse: true)
        }
        let seen = writer.log.notes.count
        notes += writer.log.notes.map(\.description)
        defer { notes += writer.log.notes[seen...].map(\.description) }
        return try LedgerError.translating { try body(writer, config) }
    }

    // MARK: info

    public struct SegmentInfo: Equatable {
        public let name: String
        public let firstPosition: UInt64
        public let records: UInt64
        public let bytes: Int
    }

    public struct SnapshotInfo: Equatable {
        public let position: UInt64
        public let timestampMicros: Int64?
        public let bytes: Int
    }

    public struct ViewInfo: Equatable {
        public let name: String
        public let checkpoint: UInt64?
        public let bytes: Int
    }

    public struct Info: Equatable {
        public let store: String
        public let records: UInt64
        public let head: String
        public let firstTimestampMicros: Int64?
        public let lastTimestampMicros: Int64?
        public let bytes: Int
        public let segments: [SegmentInfo]
        public let snapshots: [SnapshotInfo]
        public let views: [ViewInfo]
    }

    public func info() throws -> Info {
        // Every segment's size is listed: check them all now.
        let log = try openLog(allSegments: true)
        let segments = log.segments.map {
            SegmentInfo(name: $0.name, firstPosition: $0.base, records: $0.recordCount, bytes: $0.committedBytes)
        }
        let first = try LedgerError.translating { try log.timestamp(ofPosition: 1) }
        let snapshots = try LedgerError.translating { try SnapshotFile.list(directory: layout.snapshotDirectory) }.map { p in
            SnapshotInfo(position: p, timestampMicros: try? log.timestamp(ofPosition: p),
                         bytes: SnapshotFile.size(directory: layout.snapshotDirectory, position: p))
        }
        let views = [("accounts", Views.accountsPath(layout)), ("ids", Views.idsPath(layout)), ("history", Views.historyPath(layout))].map { name, path in
            ViewInfo(name: name, checkpoint: Views.checkpoint(ofTableAt: path), bytes: FileSystem.fileSize(path) ?? 0)
        }
        return Info(store: layout.root, records: log.head.position, head: log.head.text,
                    firstTimestampMicros: first, lastTimestampMicros: log.head.position > 0 ? log.head.timestampMicros : nil,
                    bytes: segments.reduce(0) { $0 + $1.bytes }, segments: segments, snapshots: snapshots, views: views)
    }

    // MARK: verify

    /// Parses "POSITION:HASH" as printed by `info`.
    public static func parseHead(_ text: String) throws -> (UInt64, [UInt8]) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let position = UInt64(parts[0]), let hash = Hex.decode(String(parts[1])),
              hash.count == SHA256.digestBytes else {
            throw LedgerError.usage("--expect-head must be POSITION:HASH (64 hex digits), as printed by `ledger info`; got '\(text)'")
        }
        return (position, hash)
    }

    /// Verifies the log under the writer lock, so that the tail it sees is stable.
    public func verify(expectHead: String?, progress: ((UInt64, UInt64) -> Void)? = nil) throws -> LogVerifyReport {
        let expected = try expectHead.map(Self.parseHead)
        guard FileSystem.isDirectory(layout.root) else {
            throw LedgerError.usage("no store at \(layout.root)")
        }
        let lock = try LedgerError.translating { try StoreLock.acquire(layout.lockPath, timeoutMillis: lockTimeoutMillis) }
        defer { lock.release() }
        // The derived files are checked against a fold of the log on a second thread meanwhile
        // (both only read); what that check finds counts only when the log is sound.
        let derived = Background { try self.verifyDerivedFiles() }
        let verified = Result {
            try LedgerError.translating { try LogVerifier.verify(directory: layout.logDirectory, expectHead: expected, progress: progress) }
        }
        let derivedProblems = Result { try derived.join() }
        var report = try verified.get()
        if report.problems.isEmpty { report.problems += try derivedProblems.get() }
        return report
    }
}
