// Chunks of values handed from one thread to another through a bounded queue: the
// producer blocks while `chunksMax` chunks wait, the consumer while none does. Either
// side can end it: the producer with finish (and an error that ends the work), the
// consumer with cancel (the producer's next send returns false).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

final class ChunkPipe<Chunk>: @unchecked Sendable {
    private let chunksMax: Int
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    // Guarded by mutex.
    private var queue: [Chunk] = []
    private var finished = false
    private var cancelled = false
    private var failure: Error?

    init(chunksMax: Int) {
        self.chunksMax = chunksMax
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(changed, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        pthread_cond_destroy(changed)
        mutex.deallocate()
        changed.deallocate()
    }

    private func locked<R>(_ body: () -> R) -> R {
        pthread_mutex_lock(mutex)
        defer {
            pthread_cond_broadcast(changed)
            pthread_mutex_unlock(mutex)
        }
        return body()
    }

    /// Queues `chunk`, waiting while the queue is full; false when the consumer cancelled.
    func send(_ chunk: Chunk) -> Bool {
        locked {
            while queue.count >= chunksMax && !cancelled { pthread_cond_wait(changed, mutex) }
            if cancelled { return false }
            queue.append(chunk)
            return true
        }
    }

    /// No more chunks; `error`, if any, is thrown by the consumer's receive once the queue is empty.
    func finish(throwing error: Error? = nil) {
        locked {
            failure = error
            finished = true
        }
    }

    /// The next chunk, waiting for one; nil once the producer finished and the queue is empty.
    func receive() throws -> Chunk? {
        let (chunk, error): (Chunk?, Error?) = locked {
            while queue.isEmpty && !finished && !cancelled { pthread_cond_wait(changed, mutex) }
            if !queue.isEmpty { return (queue.removeFirst(), nil) }
            return (nil, failure)
        }
        if let error { throw error }
        return chunk
    }

    /// The consumer stops: a waiting or later send returns false, a waiting receive returns nil.
    func cancel() {
        locked { cancelled = true }
    }
}
