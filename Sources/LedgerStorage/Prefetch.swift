// A cache hint for hot loops that know which memory they will touch a little later
// (the history builder, a few changes ahead; an import's validation, a few lines ahead):
// the miss overlaps the work in between.

import CLedgerAccel

public enum Prefetch {
    @inlinable public static func forWrite(_ p: UnsafeRawPointer) { ledger_prefetch_for_write(p) }
    @inlinable public static func forRead(_ p: UnsafeRawPointer) { ledger_prefetch_for_read(p) }
}
