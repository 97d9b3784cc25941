// Work handed from one thread to a consumer on another, in chunks through a bounded queue
// (ChunkPipe): the consumer handles each chunk as it comes and, once the producer calls
// end(), finishes with a result. Either side can stop it: the producer with cancel() (the
// finish then never runs), the consumer by failing (later chunks are dropped, result()
// throws the failure). Without a thread (pthread_create failed) the work runs inline:
// each chunk when it fills, the finish in end(). A replay's history records, ids view and
// snapshot writes, and an import's history records, each run on one.

import LedgerStorage

final class ChunkedWorker<T, R>: @unchecked Sendable {
    struct Cancelled: Error, CustomStringConvertible {
        var description: String { "stopped before its end" }
    }

    /// Items a chunk gathers before it is handed over.
    let chunkItems: Int
    private let pipe: ChunkPipe<[T]>
    private let consume: ([T]) throws -> Void
    private let finishing: () throws -> R
    private var pending: [T] = []
    private var worker: Background<R>?
    /// Set by end() before the pipe finishes (so the worker sees it): a pipe that finished
    /// without it was cancelled.
    private final class Ended: @unchecked Sendable { var value = false }
    private let ended = Ended()
    /// Without a thread: the first failure, then the result.
    private var outcome: Result<R, Error>?

    /// `threaded: false`: the consumer runs inline, as when no thread can be started (tests).
    init(chunkItems: Int, chunksMax: Int, threaded: Bool = true, consume: @escaping ([T]) throws -> Void,
         finish: @escaping () throws -> R) {
        self.chunkItems = chunkItems
        pipe = ChunkPipe<[T]>(chunksMax: chunksMax)
        self.consume = consume
        finishing = finish
        pending.reserveCapacity(chunkItems)
        let worker = Background(threaded: threaded) { [pipe, ended] () throws -> R in
            do {
                while let chunk = try pipe.receive() { try consume(chunk) }
                guard ended.value else { throw Cancelled() }
                return try finish()
            } catch {
                pipe.cancel()
                throw error
            }
        }
        if worker.started { self.worker = worker }
    }

    func add(_ item: T) {
        pending.append(item)
        if pending.count >= chunkItems { send() }
    }

    /// Hands `items` over as one chunk (after the items added one by one) and empties it,
    /// keeping its capacity. A hot loop gathers its items in a local array and hands them over
    /// with this every `chunkItems`: `add` per item was a run-time exclusivity check on this
    /// object's buffer (a class's stored var) every time.
    func add(chunk items: inout [T]) {
        guard !items.isEmpty else { return }
        send()
        swap(&pending, &items)
        send()
        swap(&pending, &items)
    }

    private func send() {
        guard !pending.isEmpty else { return }
        if worker != nil {
            // Refused: the consumer failed; result() says why.
            _ = pipe.send(pending)
        } else if outcome == nil {
            do { try consume(pending) } catch { outcome = .failure(error) }
        }
        pending.removeAll(keepingCapacity: true)
    }

    /// Every item is added: the consumer finishes (result() waits for it).
    func end() {
        send()
        guard worker != nil else {
            if outcome == nil { outcome = Result { try finishing() } }
            return
        }
        ended.value = true
        pipe.finish()
    }

    /// Waits for the consumer: what its finish returned, or what stopped it.
    func result() throws -> R {
        if let worker { return try worker.join() }
        guard let outcome else { throw Cancelled() }
        return try outcome.get()
    }

    /// The producer stops (it failed): the consumer stops after its chunk and never finishes.
    func cancel() {
        pipe.cancel()
        _ = try? worker?.join()
    }
}
