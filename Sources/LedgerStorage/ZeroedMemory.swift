// Zero-filled memory straight from the kernel, for large tables filled in place (an
// import's own idempotency keys): no memset, since fresh anonymous pages come zeroed, and
// from 2 MiB up, transparent huge pages are asked for (MADV_HUGEPAGE; this kernel's
// setting is "madvise"), so 32 MiB cost 16 page faults instead of 8192 (measured: 3 ms
// instead of 18–20 ms to touch them all). Where mmap fails, plain zeroed heap memory.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

public final class ZeroedMemory {
    public let base: UnsafeMutableRawPointer
    public let byteCount: Int
    private let mapped: Bool

    static let hugePageBytes = 2 << 20

    /// `populated`: every page is made at once (one call, instead of a page fault a page as
    /// they are first touched) for memory that will be filled whole. MAP_POPULATE makes small
    /// pages before MADV_HUGEPAGE is asked for, so populated memory is not in huge pages;
    /// asking first (MADV_POPULATE_WRITE after MADV_HUGEPAGE) gave the same page-fault count
    /// and no faster slot-table build (BENCHMARKS, nineteenth session), so it stays so.
    public init(byteCount: Int, populated: Bool = false) {
        precondition(byteCount > 0)
        self.byteCount = byteCount
        let p = mmap(nil, byteCount, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | (populated ? MAP_POPULATE : 0), -1, 0)
        if let p, p != MAP_FAILED {
            if byteCount >= Self.hugePageBytes { _ = madvise(p, byteCount, 14 /* MADV_HUGEPAGE */) }
            base = p
            mapped = true
        } else {
            base = .allocate(byteCount: byteCount, alignment: 64)
            base.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount)
            mapped = false
        }
    }

    deinit {
        if mapped { munmap(base, byteCount) } else { base.deallocate() }
    }
}
