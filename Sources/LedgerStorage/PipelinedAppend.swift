// Many batches appended one after another (an import's), each made durable while the
// next is hashed and written: the fdatasync of batch k runs on a thread of its own
// while the caller's thread writes batch k+1. The commit rule is LogWriter's, unchanged:
// a batch is acknowledged (the head moves, its index entries are written, the caller is
// told) only once an fdatasync begun after its write has returned. A crash or a failed
// sync leaves whole batches: the opener cuts at the first incomplete one, as it always
// does, so an unacknowledged batch written after a durable one is simply not there.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

public final class PipelinedAppend {
    /// Batches written and not yet acknowledged at most (the one being synced and the next).
    static let writtenAhead = 2

    private let writer: LogWriter
    private let committed: (ClosedRange<UInt64>) throws -> Void
    private let syncer: DataSyncer
    /// Written, oldest first; `syncer` is asked to make them durable.
    private var pending: [LogWriter.Written] = []
    /// Batches written so far (what the syncer counts).
    private var writtenCount = 0

    /// `committed` is called on the caller's thread, in order, with each batch's positions once
    /// it is durable. `threaded: false` syncs on the caller's thread (no second thread).
    public convenience init(_ writer: LogWriter, threaded: Bool = true, committed: @escaping (ClosedRange<UInt64>) throws -> Void) {
        self.init(writer, threaded: threaded, sync: { try $0.syncData() }, committed: committed)
    }

    /// `sync` makes a file's written bytes durable (the tests make it fail).
    init(_ writer: LogWriter, threaded: Bool, sync: @escaping @Sendable (FileDescriptor) throws -> Void,
         committed: @escaping (ClosedRange<UInt64>) throws -> Void) {
        self.writer = writer
        self.committed = committed
        syncer = DataSyncer(threaded: threaded, sync: sync)
    }

    deinit { syncer.stop() }

    /// Writes `batch` after the ones before it and asks for it to be made durable; acknowledges
    /// those that are durable by now.
    public func append(_ batch: Batch) throws {
        if writer.nextBatchBeginsSegment {
            // A new segment file: every batch before it durable first (the syncer syncs one file),
            // then this one appended whole, its directory entry made durable too.
            try finish()
            let positions = try writer.append(batch)
            try committed(positions)
            return
        }
        let written = try writer.write(batch)
        pending.append(written)
        writtenCount += 1
        syncer.request(written.fd, through: writtenCount)
        try acknowledgeDurable(waitingWhileMoreThan: Self.writtenAhead - 1)
    }

    /// Waits until every batch written is durable and acknowledged.
    public func finish() throws {
        try acknowledgeDurable(waitingWhileMoreThan: 0)
    }

    /// Acknowledges the durable batches, first waiting while more than `pendingMax` would be left.
    private func acknowledgeDurable(waitingWhileMoreThan pendingMax: Int) throws {
        let firstPending = writtenCount - pending.count
        let synced: Int
        do {
            synced = try syncer.synced(atLeast: firstPending + max(0, pending.count - pendingMax))
        } catch let error as SystemError {
            if let first = pending.first { writer.failWrite(first) }
            pending = []
            throw StorageError.io(error)
        }
        let durable = min(pending.count, synced - firstPending)
        guard durable > 0 else { return }
        for w in pending[..<durable] {
            writer.acknowledge(w)
            try committed(w.positions)
        }
        pending.removeFirst(durable)
    }
}

/// fdatasync on a thread of its own: `request` asks that what was written to a file before the
/// call be made durable, naming it by a count; `synced` says how far that is done. Requests that
/// arrive while a sync runs are served by one more sync. Without a thread (threaded: false, or
/// pthread_create failed) a request syncs at once.
final class DataSyncer: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var thread: Background<Void>?
    // Guarded by mutex.
    private var fd: FileDescriptor?
    private var requested = 0
    private var done = 0
    private var failure: SystemError?
    private var stopping = false
    private let sync: @Sendable (FileDescriptor) throws -> Void

    init(threaded: Bool, sync: @escaping @Sendable (FileDescriptor) throws -> Void) {
        self.sync = sync
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(changed, nil)
        guard threaded else { return }
        // The thread holds this syncer until stop() joins it and lets it go.
        let background = Background { self.run() }
        if background.started { thread = background }
    }

    deinit {
        pthread_mutex_destroy(mutex)
        pthread_cond_destroy(changed)
        mutex.deallocate()
        changed.deallocate()
    }

    private func locked<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Everything written to `fd` before this call is to be made durable; `count` names it.
    func request(_ fd: FileDescriptor, through count: Int) {
        guard thread != nil else {
            do {
                try sync(fd)
                done = count
            } catch let error as SystemError {
                failure = error
            } catch {
                preconditionFailure("syncs throw SystemError only")
            }
            return
        }
        locked {
            precondition(self.fd == nil || self.fd!.raw == fd.raw || done == requested, "one file at a time")
            self.fd = fd
            requested = count
            pthread_cond_broadcast(changed)
        }
    }

    /// The count made durable so far, waiting until it is at least `count`; throws what a sync failed with.
    func synced(atLeast count: Int) throws -> Int {
        try locked {
            while done < count && failure == nil && thread != nil { pthread_cond_wait(changed, mutex) }
            if let failure { throw failure }
            return done
        }
    }

    /// Ends the thread once the syncs asked for are done.
    func stop() {
        guard let t = thread else { return }
        locked {
            stopping = true
            pthread_cond_broadcast(changed)
        }
        try? t.join()
        thread = nil
    }

    private func run() {
        pthread_mutex_lock(mutex)
        while true {
            while done == requested && !stopping { pthread_cond_wait(changed, mutex) }
            if done == requested || failure != nil { break }
            let target = requested, fd = self.fd!
            pthread_mutex_unlock(mutex)
            var error: SystemError?
            do { try sync(fd) } catch let e as SystemError { error = e } catch { preconditionFailure("syncs throw SystemError only") }
            pthread_mutex_lock(mutex)
            if let error { failure = error } else { done = target }
            pthread_cond_broadcast(changed)
        }
        pthread_mutex_unlock(mutex)
    }
}
