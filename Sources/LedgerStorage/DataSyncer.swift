// fdatasync on a thread of its own, so that the caller works while a sync runs: an
// import's append writes a batch's index entries while its commit record is made durable.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

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
