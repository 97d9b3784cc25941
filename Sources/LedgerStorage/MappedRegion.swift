// Part of a file mapped read-only, unmapped when the last reference to it goes. A reader
// of committed log bytes scans and hands out records in place instead of copying them
// (twice: into a read buffer, then into a thread's hand-over buffer). Committed bytes are
// never truncated by a repair (it cuts only what was never committed); the one thing that
// cuts written batches, an append whose fdatasync failed, cannot happen beside the one
// mapped reader there is, a replay, which holds the store's lock. A file cut short by
// anything else is caught by the size check before each window is mapped.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

public final class MappedRegion: @unchecked Sendable {
    /// The file's bytes from `fileOffset`.
    public let bytes: UnsafeRawBufferPointer
    public let fileOffset: Int
    private let mapping: UnsafeMutableRawPointer
    private let mappedBytes: Int

    private static let pageBytes = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Maps `count` bytes of `fd` at `offset` (which need not be page-aligned), its pages
    /// populated up front. The caller has checked that the file holds them: touching a
    /// mapped page past the end of a file kills the process.
    init(_ fd: FileDescriptor, offset: Int, count: Int) throws {
        precondition(count > 0 && offset >= 0)
        let slack = offset % Self.pageBytes
        let p = mmap(nil, count + slack, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd.raw, off_t(offset - slack))
        guard let p, p != MAP_FAILED else { throw SystemError("mmap", path: fd.path, errno: errno) }
        mapping = p
        mappedBytes = count + slack
        fileOffset = offset
        bytes = UnsafeRawBufferPointer(start: p + slack, count: count)
    }

    deinit { munmap(mapping, mappedBytes) }
}
