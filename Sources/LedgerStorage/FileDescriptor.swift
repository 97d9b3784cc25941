// Thin typed wrappers over the file system calls the log uses. EINTR is retried
// here and nowhere else; every failure carries the call and the path.

import CLedgerAccel

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

public struct FileDescriptor {
    public let raw: Int32
    public let path: String

    public static let ownerOnlyFileMode: mode_t = 0o600
    public static let ownerOnlyDirectoryMode: mode_t = 0o700

    public static func open(_ path: String, _ flags: Int32, mode: mode_t = ownerOnlyFileMode) throws -> FileDescriptor {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return FileDescriptor(raw: fd, path: path) }
            if errno == EINTR { continue }
            throw SystemError("open", path: path, errno: errno)
        }
    }

    public static func openIfExists(_ path: String, _ flags: Int32) throws -> FileDescriptor? {
        do {
            return try open(path, flags)
        } catch let error as SystemError where error.errno == ENOENT {
            return nil
        }
    }

    public func close() {
        _ = Glibc.close(raw)
    }

    public func size() throws -> Int {
        var st = stat()
        if fstat(raw, &st) != 0 { throw SystemError("fstat", path: path, errno: errno) }
        return Int(st.st_size)
    }

    /// Reads up to `count` bytes at `offset`; returns fewer only at end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = pread(raw, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("read", path: path, errno: errno)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    public func read(count: Int, at offset: Int) throws -> [UInt8] {
        // Uninitialized: zeroing first would touch (and fault in) every page twice.
        try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = try read(into: UnsafeMutableRawBufferPointer(buffer), at: offset)
        }
    }

    /// Writes every byte at `offset` or throws; a short write is retried, never ignored.
    public func writeAll(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(raw, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("write", path: path, errno: errno)
            }
            done += n
        }
    }

    public func writeAll(_ bytes: [UInt8], at offset: Int) throws {
        try bytes.withUnsafeBytes { try writeAll($0, at: offset) }
    }

    /// Writes `parts` one after another from `offset` with `pwritev` (no copy into one buffer
    /// first), going on after a short write.
    public func writeAll(_ parts: [UnsafeRawBufferPointer], at offset: Int) throws {
        var parts = parts.filter { !$0.isEmpty }
        var position = offset
        while !parts.isEmpty {
            var vectors = parts.map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress!), iov_len: $0.count) }
            let n = pwritev(raw, &vectors, Int32(vectors.count), off_t(position))
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("write", path: path, errno: errno)
            }
            position += n
            var written = n
            while written > 0 {
                if written >= parts[0].count {
                    written -= parts[0].count
                    parts.removeFirst()
                } else {
                    parts[0] = UnsafeRawBufferPointer(rebasing: parts[0][written...])
                    written = 0
                }
            }
        }
    }

    public func syncData() throws {
        while fdatasync(raw) != 0 {
            if errno == EINTR { continue }
            throw SystemError("fdatasync", path: path, errno: errno)
        }
    }

    /// Starts writing `count` bytes at `offset` to the device without waiting for them
    /// (sync_file_range, SYNC_FILE_RANGE_WRITE): a hint that leaves less for a later syncData,
    /// which durability still needs. False when the kernel refused it (nothing else changes).
    @discardableResult
    public func startWriteBack(offset: Int, count: Int) -> Bool {
        ledger_start_writeback(raw, Int64(offset), Int64(count)) == 0
    }

    public func sync() throws {
        while fsync(raw) != 0 {
            if errno == EINTR { continue }
            throw SystemError("fsync", path: path, errno: errno)
        }
    }

    public func truncate(to size: Int) throws {
        while ftruncate(raw, off_t(size)) != 0 {
            if errno == EINTR { continue }
            throw SystemError("ftruncate", path: path, errno: errno)
        }
    }

    /// A new file with no name, for scratch data: made under a unique name in `directory`
    /// (created if missing) and unlinked at once, so a crash leaves nothing behind.
    public static func openUnlinked(in directory: String, name: String) throws -> FileDescriptor {
        try FileSystem.makeDirectory(directory)
        // mkstemp replaces the template's last six characters, which must be "X", with a unique suffix.
        var template = Array((directory + "/" + name + "-" + String(repeating: "X", count: 6)).utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw SystemError("mkstemp", path: directory + "/" + name, errno: errno) }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        let path = String(cString: template)
        let file = FileDescriptor(raw: fd, path: path)
        do { try FileSystem.remove(path) } catch {
            file.close()
            throw error
        }
        return file
    }
}

/// Directory-level calls: listing, creating, fsync of a directory entry, rename, unlink.
public enum FileSystem {
    public static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    public static func fileSize(_ path: String) -> Int? {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : nil
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Creates `path` (and missing parents) owner-only; an existing directory is fine.
    public static func makeDirectory(_ path: String) throws {
        if isDirectory(path) { return }
        let parent = parentDirectory(of: path)
        if !parent.isEmpty && parent != path && !isDirectory(parent) { try makeDirectory(parent) }
        if mkdir(path, FileDescriptor.ownerOnlyDirectoryMode) != 0 && errno != EEXIST {
            throw SystemError("mkdir", path: path, errno: errno)
        }
    }

    public static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    public static func list(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw SystemError("opendir", path: path, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Makes a file's creation, rename or removal in `path` durable.
    public static func syncDirectory(_ path: String) throws {
        let fd = try FileDescriptor.open(path, O_RDONLY | O_DIRECTORY)
        defer { fd.close() }
        try fd.sync()
    }

    public static func rename(_ from: String, _ to: String) throws {
        if Glibc.rename(from, to) != 0 { throw SystemError("rename", path: from, errno: errno) }
    }

    public static func remove(_ path: String) throws {
        if unlink(path) != 0 && errno != ENOENT { throw SystemError("unlink", path: path, errno: errno) }
    }
}

/// Write-to-temp, fsync, rename, fsync directory: a file that is either the old or the new content.
public enum AtomicFile {
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let temp = path + ".tmp"
        let fd = try FileDescriptor.open(temp, O_WRONLY | O_CREAT | O_TRUNC)
        do {
            try fd.writeAll(bytes, at: 0)
            try fd.sync()
        } catch {
            fd.close()
            try? FileSystem.remove(temp)
            throw error
        }
        fd.close()
        try FileSystem.rename(temp, path)
        try FileSystem.syncDirectory(FileSystem.parentDirectory(of: path))
    }

    public static func read(_ path: String) throws -> [UInt8]? {
        guard let fd = try FileDescriptor.openIfExists(path, O_RDONLY) else { return nil }
        defer { fd.close() }
        return try fd.read(count: fd.size(), at: 0)
    }
}
