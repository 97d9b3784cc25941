// The single-writer lock: flock(LOCK_EX) on a lock file, polled until a deadline.
// Released by close or by process death, so a killed writer never wedges the store.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

public final class StoreLock {
    private let fd: FileDescriptor
    private var held = true

    private init(fd: FileDescriptor) { self.fd = fd }

    /// Takes the exclusive lock on `path`, waiting at most `timeoutMillis`.
    public static func acquire(_ path: String, timeoutMillis: Int) throws -> StoreLock {
        let fd = try StorageError.wrapping { try FileDescriptor.open(path, O_RDWR | O_CREAT) }
        var waitedMicros = 0
        var sleepMicros = 200
        while true {
            if flock(fd.raw, LOCK_EX | LOCK_NB) == 0 { return StoreLock(fd: fd) }
            let err = errno
            if err == EINTR { continue }
            if err != EWOULDBLOCK {
                fd.close()
                throw StorageError.io(SystemError("flock", path: path, errno: err))
            }
            if waitedMicros >= timeoutMillis * 1000 {
                fd.close()
                throw StorageError.busy(lockPath: path, waitedMillis: waitedMicros / 1000)
            }
            usleep(UInt32(sleepMicros))
            waitedMicros += sleepMicros
            sleepMicros = min(sleepMicros * 2, 10_000)
        }
    }

    /// Takes the lock only if nobody holds it.
    public static func tryAcquire(_ path: String) throws -> StoreLock? {
        do { return try acquire(path, timeoutMillis: 0) } catch StorageError.busy { return nil }
    }

    /// Whether some process holds the lock on `path` now (a shared lock cannot be had, and is
    /// let go at once if it can): a reader's sign that a writer is at work. False when the file
    /// is missing or cannot be asked.
    public static func isHeld(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        while true {
            if flock(fd, LOCK_SH | LOCK_NB) == 0 {
                _ = flock(fd, LOCK_UN)
                return false
            }
            if errno != EINTR { return errno == EWOULDBLOCK }
        }
    }

    public func release() {
        guard held else { return }
        held = false
        _ = flock(fd.raw, LOCK_UN)
        fd.close()
    }

    deinit { release() }
}
