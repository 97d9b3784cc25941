// The balances after the whole log, folded in parts at once, one thread each (replay of
// the balances): the log is cut into chunks, which the threads claim in turn. The calling
// thread folds chunks from the first on into the state itself; each other thread folds
// chunks from the last back into a PartFold of its own, until the two ends meet, so that
// the threads finish together however fast each runs. Each thread reads its chunks from
// mapped windows and checks every frame (CRC, positions, timestamps, commits), digests the
// money events and folds them. The PartFolds are merged afterwards (or, when the merge
// refuses them, their chunks folded again in order).

import LedgerDomain
import LedgerStorage
import Synchronization

enum PartedFold {
    /// Fewer events than this a thread are folded on fewer threads: a thread's start and the
    /// merge cost more than the second core saves.
    static let eventsPerPartMin: UInt64 = 1 << 16

    /// Chunks a thread: the threads end at most about one chunk apart (on 1 M events and two
    /// threads, a chunk is about 1 ms of work; 4, 8, 16 and 32 a thread measured 43.5, 41.5,
    /// 39.9 and 41.1 ms a replay, medians of 21, the CPU time rising past 16).
    static let chunksPerPart = 16

    /// Events a chunk at most, however long the log (about 6 ms of work for one thread): a
    /// long log is cut in more chunks, so that its threads still end a few ms apart.
    static let chunkEventsMax: UInt64 = 1 << 17

    /// The state after every event of `log`, folded in up to `parts` parts at once (the calling
    /// thread folds the first). The caller holds the store's lock (the reads are mapped). An
    /// error is the one folding the log in order would have met first: a chunk's errors are
    /// reported only when the chunks before it had none.
    /// `accountsExpected`: about how many accounts the log opens (room is made for them first).
    /// `progress` is told, on the calling thread, how many events the parts have folded in all,
    /// after each batch of the calling thread's that takes the count past another `progressEvery`
    /// (once it is done, the caller reports the end).
    static func foldAll(_ log: Log, parts wanted: Int, eventsPerPartMin: UInt64 = eventsPerPartMin, chunksPerPart: Int = chunksPerPart,
                        chunkEventsMax: UInt64 = chunkEventsMax, accountsExpected: Int = 0, progressEvery: UInt64 = Views.progressEvery,
                        progress: ((UInt64) -> Void)? = nil) throws -> CompactState {
        let head = log.head.position
        let parts = max(1, min(wanted, Int(head / max(1, eventsPerPartMin))))
        let chunks = parts == 1 ? 1 : max(UInt64(parts * max(1, chunksPerPart)), head / max(1, chunkEventsMax))
        // Chunk k folds positions bounds[k] + 1 through bounds[k + 1].
        let bounds = (0...chunks).map { head / chunks * $0 + min($0, head % chunks) }
        let plans = try (0..<Int(chunks)).map { try log.readPlan(from: bounds[$0] + 1, through: bounds[$0 + 1]) }
        let claims = ChunkClaims(count: plans.count)
        // Events folded by every thread so far.
        let folded = EventCount()
        let helpers = (1..<parts).map { _ in
            Background { () -> (PartFold, ChunkFailure?) in
                var part = PartFold()
                // A batch's digests (a plain value type: written in place, nothing to release).
                let digests = UnsafeMutableBufferPointer<MoneyDigest>.allocate(capacity: digestsMax)
                defer { digests.deallocate() }
                while let k = claims.fromBack() {
                    do { try fold(plans[k], into: &part, digests: digests) { folded.add($0) } } catch { return (part, ChunkFailure(chunk: k, error: error)) }
                }
                return (part, nil)
            }
        }
        var state = CompactState(reservingCapacity: accountsExpected)
        var failure: ChunkFailure?
        var reportAt = progressEvery
        /// Chunks before this one are folded into `state`.
        var mine = 0
        let digests = UnsafeMutableBufferPointer<MoneyDigest>.allocate(capacity: digestsMax)
        defer { digests.deallocate() }
        while let k = claims.fromFront() {
            do {
                try fold(plans[k], into: &state, digests: digests) { events in
                    guard let progress else { return }
                    let total = folded.add(events)
                    if total >= reportAt {
                        progress(total)
                        reportAt = total + progressEvery
                    }
                }
            } catch {
                // The chunks after it need not be folded.
                failure = ChunkFailure(chunk: k, error: error)
                claims.close()
                break
            }
            mine = k + 1
        }
        var partFolds: [PartFold] = []
        for thread in helpers {
            // Every thread is joined; the error of the first chunk that has one is thrown.
            let (part, failed) = try thread.join()
            partFolds.append(part)
            if let failed, failed.chunk < failure?.chunk ?? .max { failure = failed }
        }
        if let failure { throw failure.error }
        if mine < plans.count {
            let merged = try LedgerError.translating { try state.merge(partFolds) }
            if !merged { for k in mine..<plans.count { try fold(plans[k], into: &state, digests: digests) } }
        }
        return state
    }

    /// Records digested at a time: their digests stay in a core's cache until they are folded
    /// (a batch of an import is 10 000 records).
    static let digestsMax = 4096

    /// Folds the plan's records into `folder`, a committed batch at a time, up to `digests.count`
    /// records at a time: their digests first, then those the folder takes, each declined record
    /// the general way; `afterBatch` is told each batch's count once it is folded.
    static func fold<F: MoneyFolding>(_ plan: ReadPlan, into folder: inout F, digests: UnsafeMutableBufferPointer<MoneyDigest>,
                                      afterBatch: (Int) -> Void = { _ in }) throws {
        try LedgerError.translating {
            try plan.forEachMappedBatch { batch, _ in
                var records = batch.makeIterator()
                var cursor = BatchCursor(batch)
                var done = 0
                while done < batch.count {
                    let n = min(digests.count, batch.count - done)
                    var next = digests.baseAddress!
                    for _ in 0..<n {
                        let record = records.next()!
                        next.initialize(to: MoneyDigest(type: record.type, version: record.schemaVersion, payload: record.payload))
                        next += 1
                    }
                    try folder.fold(batch, done..<(done + n), digests: UnsafeBufferPointer(rebasing: digests[0..<n]), cursor: &cursor)
                    done += n
                }
                afterBatch(batch.count)
                return true
            }
        }
    }
}

/// The chunks of a fold in parts, claimed by one thread from the first on and by the others
/// from the last back: each chunk once, the ones the first thread claims before all the others'.
final class ChunkClaims: Sendable {
    /// The next chunk from the front, the next from the back (none left once they cross).
    private let ends: Mutex<(front: Int, back: Int)>

    init(count: Int) { ends = Mutex((0, count - 1)) }

    func fromFront() -> Int? {
        ends.withLock { ends in
            guard ends.front <= ends.back else { return nil }
            ends.front += 1
            return ends.front - 1
        }
    }

    func fromBack() -> Int? {
        ends.withLock { ends in
            guard ends.front <= ends.back else { return nil }
            ends.back -= 1
            return ends.back + 1
        }
    }

    /// No chunk is claimed after this.
    func close() { ends.withLock { $0 = (1, 0) } }
}

/// A chunk whose fold failed, and why.
struct ChunkFailure {
    let chunk: Int
    let error: Error
}

/// A count several threads add to (the events a fold's parts have folded).
final class EventCount: Sendable {
    private let value = Atomic<UInt64>(0)

    /// Adds `n` and returns the new total.
    @discardableResult
    func add(_ n: Int) -> UInt64 { value.add(UInt64(n), ordering: .relaxed).newValue }
}
