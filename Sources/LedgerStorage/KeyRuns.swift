// Pairs of 64-bit integers (key, value) spilled to disk in runs, each sorted by key, in one
// unlinked file: what an import keeps of its own idempotency keys (hash, position) beyond
// the memory it allows itself. In memory, per run: every 256th key, and a blocked Bloom
// filter of 10 bits a key (about 1 % false positives, all of a key's probes in one cache
// line), so a key the runs do not hold is nearly always answered without a read, and one
// they hold costs one 4 KiB read per run that has it (two when equal keys straddle a block
// boundary). The keys are hashes already: the filter's probes are derived from them.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

public final class KeyRuns {
    /// Pairs per block: 256 × 16 bytes = 4 KiB, one read per run for a lookup.
    static let blockPairs = 256
    static let pairBytes = 16

    static let filterBitsPerKey = 10
    static let filterProbes = 7

    private struct Run {
        let offset: Int
        let count: Int
        /// The key of every block's first pair.
        let firstKeys: [UInt64]
        /// Bloom filter over the run's keys.
        let filter: [UInt64]
    }

    /// The filter is blocked: a key's probes all fall in one 64-byte block (8 words), so a
    /// lookup costs one cache miss a run, which `prefetch` can start early.
    static let blockWords = 8

    /// The first word of `key`'s block in a filter of `blocks` blocks.
    @inline(__always)
    private static func filterBlock(_ key: UInt64, blocks: Int) -> Int {
        Int(truncatingIfNeeded: ((key &* 0x9E37_79B9_7F4A_7C15) >> 32) % UInt64(blocks)) * blockWords
    }

    /// `key`'s probe bits within its block (0..<512).
    @inline(__always)
    private static func filterBits(_ key: UInt64, _ body: (Int) -> Void) {
        var bits = (key >> 29 | key << 35) &* 0xBF58_476D_1CE4_E5B9
        for _ in 0..<filterProbes {
            body(Int(truncatingIfNeeded: bits & 511))
            bits >>= 9
        }
    }

    private let directory: String
    private var file: FileDescriptor?
    private var fileBytes = 0
    private var runs: [Run] = []
    public private(set) var count = 0
    /// Blocks read by lookups so far (the tests check the filter spares them).
    private(set) var blockReads = 0

    /// The file is made (and unlinked at once) in `directory` when the first run is added.
    public init(directory: String) {
        self.directory = directory
    }

    deinit { file?.close() }

    /// Writes `pairs`, sorted by key, as one run.
    public func addRun(sorted pairs: UnsafeBufferPointer<(key: UInt64, value: UInt64)>) throws {
        guard !pairs.isEmpty else { return }
        let fd = try file ?? FileDescriptor.openUnlinked(in: directory, name: ".key-runs")
        file = fd
        let offset = fileBytes
        // Written 64 KiB at a time: no second copy of the run in memory.
        let chunkBytes = 16 * Self.blockPairs * Self.pairBytes
        var bytes = [UInt8]()
        bytes.reserveCapacity(chunkBytes)
        var firstKeys: [UInt64] = []
        let filterBlocks = max(1, pairs.count * Self.filterBitsPerKey / (64 * Self.blockWords))
        var filter = [UInt64](repeating: 0, count: filterBlocks * Self.blockWords)
        for (i, pair) in pairs.enumerated() {
            if i % Self.blockPairs == 0 { firstKeys.append(pair.key) }
            let block = Self.filterBlock(pair.key, blocks: filterBlocks)
            Self.filterBits(pair.key) { filter[block + ($0 >> 6)] |= 1 << UInt64($0 & 63) }
            bytes.appendLE(pair.key)
            bytes.appendLE(pair.value)
            if bytes.count == chunkBytes || i == pairs.count - 1 {
                try fd.writeAll(bytes, at: fileBytes)
                fileBytes += bytes.count
                bytes.removeAll(keepingCapacity: true)
            }
        }
        runs.append(Run(offset: offset, count: pairs.count, firstKeys: firstKeys, filter: filter))
        count += pairs.count
    }

    /// Starts loading the filter blocks a lookup of `key` reads (a caller a few keys ahead).
    public func prefetch(_ key: UInt64) {
        for run in runs {
            let block = Self.filterBlock(key, blocks: run.filter.count / Self.blockWords)
            run.filter.withUnsafeBufferPointer { Prefetch.forRead($0.baseAddress! + block) }
        }
    }

    /// False when no run holds `key` (no read); true when one may.
    public func mayHold(_ key: UInt64) -> Bool {
        runs.contains { Self.mayHold(key, $0) }
    }

    private static func mayHold(_ key: UInt64, _ run: Run) -> Bool {
        var maybe = true
        let first = filterBlock(key, blocks: run.filter.count / blockWords)
        run.filter.withUnsafeBufferPointer { filter in
            filterBits(key) { if filter[first + ($0 >> 6)] & (1 << UInt64($0 & 63)) == 0 { maybe = false } }
        }
        return maybe
    }

    /// The values stored under `key`, run by run.
    public func forEachValue(of key: UInt64, _ visit: (UInt64) throws -> Void) throws {
        for run in runs {
            guard Self.mayHold(key, run) else { continue }
            // The last block that starts below the key; equal keys may begin at its end.
            var lo = 0, hi = run.firstKeys.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if run.firstKeys[mid] < key { lo = mid + 1 } else { hi = mid }
            }
            var block = max(lo - 1, 0)
            while true {
                try readBlock(run, block) { k, v in if k == key { try visit(v) } }
                // The next block holds more of them only if it starts with the key.
                block += 1
                guard block < run.firstKeys.count, run.firstKeys[block] == key else { break }
            }
        }
    }

    /// Every pair, run by run, each run in key order.
    public func forEach(_ visit: (UInt64, UInt64) throws -> Void) throws {
        for run in runs {
            for block in 0..<run.firstKeys.count { try readBlock(run, block, visit) }
        }
    }

    private func readBlock(_ run: Run, _ block: Int, _ visit: (UInt64, UInt64) throws -> Void) throws {
        guard let file else { return }
        let first = block * Self.blockPairs
        let n = min(Self.blockPairs, run.count - first)
        let bytes = try file.read(count: n * Self.pairBytes, at: run.offset + first * Self.pairBytes)
        blockReads += 1
        guard bytes.count == n * Self.pairBytes else { throw SystemError("read", path: "key runs", errno: EIO) }
        try bytes.withUnsafeBytes { raw in
            for i in 0..<n {
                try visit(LE.u64(raw.baseAddress!, i * Self.pairBytes), LE.u64(raw.baseAddress!, i * Self.pairBytes + 8))
            }
        }
    }
}
