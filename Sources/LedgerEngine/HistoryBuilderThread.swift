// History records built on their own thread: the caller (an import validating lines, a
// replay folding the log) sends, for every account an event touches, its state after the
// event; the builder (HistoryView.Builder) turns those into records meanwhile. Without a
// thread, the records are built inline. finish() reports a failure; an import then drops
// the view (derived data) for the next writer to rebuild, a replay fails.

import LedgerDomain
import LedgerStorage

final class HistoryBuilderThread: @unchecked Sendable {
    static let chunkChanges = 4096
    private let view: HistoryView
    private let builder: HistoryView.Builder
    private let pipe = ChunkPipe<HistoryView.Change>(chunksMax: 8)
    private var pending: [HistoryView.Change] = []
    private var worker: Background<Void>?
    /// Why building stopped, when it did (changes after it are dropped).
    private var failure: Error?

    init(view: HistoryView) {
        self.view = view
        builder = HistoryView.Builder(view)
        pending.reserveCapacity(Self.chunkChanges)
        let worker = Background { [pipe, builder, view] in
            do {
                while let chunk = try pipe.receive() {
                    // Each account's spine head is a likely cache miss: start it a few changes early.
                    let ahead = 8
                    for k in chunk.indices {
                        if k + ahead < chunk.count { builder.prefetch(slot: chunk[k + ahead].slot) }
                        try builder.add(chunk[k])
                    }
                }
                try builder.finish()
                try view.table.flush()
            } catch {
                pipe.cancel()
                throw error
            }
        }
        if worker.started { self.worker = worker }
    }

    func add(_ change: HistoryView.Change) {
        guard failure == nil else { return }
        guard worker != nil else {
            do { try builder.add(change) } catch { failure = error }
            return
        }
        pending.append(change)
        if pending.count >= Self.chunkChanges { send() }
    }

    private func send() {
        guard !pending.isEmpty else { return }
        if !pipe.send(pending) {
            // The builder stopped; finish() says why.
            failure = failure ?? SlotTableError.damaged(path: view.table.path, reason: "history builder stopped")
        }
        pending.removeAll(keepingCapacity: true)
    }

    /// Every change is sent; the records are complete once finish() returns.
    func endOfChanges() {
        guard worker != nil else {
            if failure == nil {
                do {
                    try builder.finish()
                    try view.table.flush()
                } catch { failure = error }
            }
            return
        }
        send()
        pipe.finish()
    }

    /// Waits for the builder; throws what stopped it.
    func finish() throws {
        try worker?.join()
        if let failure { throw failure }
    }

    /// Stops the builder (the caller failed) and waits for it.
    func cancel() {
        pipe.cancel()
        _ = try? worker?.join()
    }
}
