// The balances after the whole log, folded in parts at once, one thread each (replay of
// the balances): each thread reads its range of the log from mapped windows, checks every
// frame (CRC, positions, timestamps, commits), digests a committed batch's money events and
// folds them. The first part folds into the state itself; each later part into a PartFold,
// merged in order afterwards (or, when the merge refuses it, folded again in order).

import LedgerDomain
import LedgerStorage
import Synchronization

enum PartedFold {
    /// Fewer events than this are folded on one thread: a thread's start, the second read of a
    /// batch that straddles two parts and the merge cost more than the second core saves.
    static let eventsPerPartMin: UInt64 = 1 << 16

    /// The state after every event of `log`, folded in up to `parts` parts at once (the calling
    /// thread folds the first). The caller holds the store's lock (the reads are mapped). An
    /// error is the one folding the log in order would have met first: a part's errors are
    /// reported only when the parts before it had none.
    /// `accountsExpected`: about how many accounts the log opens (room is made for them first).
    /// `progress` is told, on the calling thread, how many events the parts have folded in all,
    /// after each batch of the first part that takes the count past another `progressEvery`
    /// (the first part's own batches: once it is done, the caller reports the end).
    static func foldAll(_ log: Log, parts wanted: Int, eventsPerPartMin: UInt64 = eventsPerPartMin, accountsExpected: Int = 0,
                        progressEvery: UInt64 = Views.progressEvery, progress: ((UInt64) -> Void)? = nil) throws -> CompactState {
        let head = log.head.position
        let parts = UInt64(max(1, min(wanted, Int(head / max(1, eventsPerPartMin)))))
        // Part k folds positions bounds[k] + 1 through bounds[k + 1].
        let bounds = (0...parts).map { head / parts * $0 + min($0, head % parts) }
        let plans = try (0..<Int(parts)).map { try log.readPlan(from: bounds[$0] + 1, through: bounds[$0 + 1]) }
        // Events folded by every part so far.
        let folded = EventCount()
        let later = plans.dropFirst().map { plan in
            Background { () throws -> PartFold in
                var part = PartFold()
                try fold(plan, into: &part) { folded.add($0) }
                return part
            }
        }
        var state = CompactState(reservingCapacity: accountsExpected)
        var failure: Error?
        var reportAt = progressEvery
        do {
            try fold(plans[0], into: &state) { events in
                guard let progress else { return }
                let total = folded.add(events)
                if total >= reportAt {
                    progress(total)
                    reportAt = total + progressEvery
                }
            }
        } catch { failure = error }
        var partFolds: [PartFold] = []
        for thread in later {
            // Every thread is joined, the first error kept.
            do { partFolds.append(try thread.join()) } catch { failure = failure ?? error }
        }
        if let failure { throw failure }
        for (k, part) in partFolds.enumerated() {
            let merged = try LedgerError.translating { try state.merge(part) }
            if !merged { try fold(plans[k + 1], into: &state) }
        }
        return state
    }

    /// Folds the plan's records into `folder`, a committed batch at a time: the batch's digests
    /// first, then those the folder takes, each declined record the general way; `afterBatch`
    /// is told each batch's count once it is folded.
    static func fold<F: MoneyFolding>(_ plan: ReadPlan, into folder: inout F, afterBatch: (Int) -> Void = { _ in }) throws {
        // A batch's digests (a plain value type: written in place, nothing to release).
        var digests = UnsafeMutableBufferPointer<MoneyDigest>.allocate(capacity: 4096)
        defer { digests.deallocate() }
        try LedgerError.translating {
            try plan.forEachMappedBatch { batch, _ in
                if batch.count > digests.count {
                    digests.deallocate()
                    digests = .allocate(capacity: max(batch.count, 2 * digests.count))
                }
                var next = digests.baseAddress!
                for record in batch {
                    next.initialize(to: MoneyDigest(type: record.type, version: record.schemaVersion, payload: record.payload))
                    next += 1
                }
                var cursor = BatchCursor(batch)
                try folder.fold(batch, 0..<batch.count, digests: UnsafeBufferPointer(digests), cursor: &cursor)
                afterBatch(batch.count)
                return true
            }
        }
    }
}

/// A count several threads add to (the events a fold's parts have folded).
final class EventCount: Sendable {
    private let value = Atomic<UInt64>(0)

    /// Adds `n` and returns the new total.
    @discardableResult
    func add(_ n: Int) -> UInt64 { value.add(UInt64(n), ordering: .relaxed).newValue }
}
