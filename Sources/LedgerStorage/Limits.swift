// Every named bound of the storage layer. Nothing here is tunable at run time
// except through the values a caller passes (segment size, lock timeout).

public enum Limits {
    /// Largest record body (position + timestamp + type + version + payload).
    public static let recordBodyBytesMax = 64 * 1024
    /// Most records one batch may carry; keeps a batch (and a reader's buffer) bounded.
    public static let batchRecordsMax = 100_000
    /// Most bytes of frames one batch may carry.
    public static let batchBytesMax = 64 * 1024 * 1024
    /// Default segment roll-over size.
    public static let segmentBytesDefault = 64 * 1024 * 1024
    /// Smallest segment size a store may configure (tests use tiny segments).
    public static let segmentBytesMin = 256
    /// Largest segment size a store may configure.
    public static let segmentBytesMax = 1024 * 1024 * 1024
    /// How many records ahead `RecordBatch.forEach(prefetching:)` hands a record to its
    /// prefetcher: far enough for a cache miss to resolve (~100 ns), near enough not to evict
    /// what is loaded. (Computed, so that code inlined into other modules reads a constant.)
    @inlinable public static var prefetchRecords: Int { 8 }
    /// Bytes read per pread when scanning a segment.
    public static let readChunkBytes = 1024 * 1024
    /// Bytes of a segment mapped at a time by a reader that scans in place (a larger batch
    /// gets a larger window): what it keeps mapped is a few of these.
    public static let mapWindowBytes = 4 * 1024 * 1024
    /// Default time a writer waits for the lock before giving up with `busy`.
    public static let lockTimeoutMillisDefault = 10_000
}
