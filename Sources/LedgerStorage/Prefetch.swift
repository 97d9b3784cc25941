// A cache hint for hot loops that know which memory they will touch a little later
// (the history builder, a few changes ahead; an import's validation, a few lines ahead):
// the miss overlaps the work in between.

import CLedgerAccel

public enum Prefetch {
    @inlinable public static func forWrite(_ p: UnsafeRawPointer) { ledger_prefetch_for_write(p) }
    @inlinable public static func forRead(_ p: UnsafeRawPointer) { ledger_prefetch_for_read(p) }

    /// Stores `value` at `p` (8-byte aligned) bypassing the cache, for memory another core
    /// reads next (see ledger_stream_words); a value whose size is not a multiple of 8 bytes
    /// is stored plainly. Call `streamFence()` before handing the memory over.
    @inlinable @inline(__always)
    public static func streamStore<T: BitwiseCopyable>(_ value: T, to p: UnsafeMutablePointer<T>) {
        let size = MemoryLayout<T>.size
        guard size % 8 == 0 else { return p.initialize(to: value) }
        withUnsafeBytes(of: value) { ledger_stream_words(p, $0.baseAddress, size / 8) }
    }

    @inlinable public static func streamFence() { ledger_stream_fence() }
}
