// A failed system call: which call, on which path, and errno. The only place
// errno turns into text.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

public struct SystemError: Error, Equatable, CustomStringConvertible {
    public let operation: String
    public let path: String
    public let errno: Int32

    public init(_ operation: String, path: String, errno: Int32) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    public var description: String {
        let reason = String(cString: strerror(errno))
        return "\(operation) \(path): \(reason) (errno \(errno))"
    }

    /// True for "the disk said no" errors as opposed to programming errors.
    public var isNoSpace: Bool { errno == ENOSPC || errno == EDQUOT || errno == EFBIG }
}
