// The history records of an import, built on their own thread: the validating thread
// sends, for every account an accepted line touches, its state after the line; the
// builder (HistoryView.Builder) turns those into records while validation goes on and
// while the batches are written. Without a thread, the records are built inline.

import LedgerDomain
import LedgerStorage

final class ImportHistory: @unchecked Sendable {
    struct Change {
        let position: UInt64
        let slot: Int
        let side: Int
        let opened: Bool
        let closed: Bool
        let balance: Int64
        let version: UInt64
        /// The account's last position before (for an account the builder has not seen) and its name.
        let head: UInt64
        let name: String
    }

    static let chunkChanges = 4096
    private let view: HistoryView
    private let builder: HistoryView.Builder
    private let pipe = ChunkPipe<Change>(chunksMax: 8)
    private var pending: [Change] = []
    private var worker: Background<Void>?

    init(view: HistoryView) {
        self.view = view
        builder = HistoryView.Builder(view)
        pending.reserveCapacity(Self.chunkChanges)
        let worker = Background { [pipe, builder, view] in
            do {
                while let chunk = try pipe.receive() {
                    for c in chunk { try Self.build(c, builder) }
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

    private static func build(_ c: Change, _ builder: HistoryView.Builder) throws {
        try builder.add(position: c.position, side: c.side, slot: c.slot, opened: c.opened, balance: c.balance,
                        version: c.version, closed: c.closed) { (c.name, c.head) }
    }

    func add(_ change: Change) throws {
        guard worker != nil else { return try Self.build(change, builder) }
        pending.append(change)
        if pending.count >= Self.chunkChanges { try send() }
    }

    private func send() throws {
        guard !pending.isEmpty else { return }
        if !pipe.send(pending) {
            // The builder stopped: its error says why.
            try worker?.join()
            throw SlotTableError.damaged(path: view.table.path, reason: "history builder stopped")
        }
        pending.removeAll(keepingCapacity: true)
    }

    /// Every change is sent; the records are complete once finish() returns.
    func endOfChanges() throws {
        guard worker != nil else {
            try builder.finish()
            return try view.table.flush()
        }
        try send()
        pipe.finish()
    }

    /// Waits for the builder; throws what stopped it.
    func finish() throws {
        try worker?.join()
    }

    /// Stops the builder (the import failed) and waits for it.
    func cancel() {
        pipe.cancel()
        _ = try? worker?.join()
    }
}
