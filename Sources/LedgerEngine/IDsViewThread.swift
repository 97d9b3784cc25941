// The ids view of a rebuild, built on its own thread: the folding thread sends each
// idempotency key's hash and position; this thread inserts them into a table in memory
// (SlotTableBuilder) as they come, then writes it at the end, in one step. Without a
// thread, the keys are inserted inline.

import LedgerStorage

final class IDsViewThread: @unchecked Sendable {
    static let chunkValues = 16_384
    private let pipe = ChunkPipe<UInt64>(chunksMax: 8)
    /// (hash, position) pairs, flat, waiting to be sent.
    private var pending: [UInt64] = []
    private var worker: Background<SlotTable>?
    private let table: SlotTableBuilder
    private let path: String
    /// Set by endOfKeys (before the pipe finishes, so the worker sees it): without it, a finished
    /// pipe means the caller cancelled, and nothing is written.
    private final class Checkpoint: @unchecked Sendable { var position: UInt64? }
    private let checkpoint = Checkpoint()
    private var failure: Error?

    /// `expected`: about how many keys will come (the old view's count; only speed depends on it).
    init(path: String, expected: Int) {
        self.path = path
        table = SlotTableBuilder(keyBytesMax: 8, expected: expected)
        pending.reserveCapacity(Self.chunkValues)
        let worker = Background { [pipe, table, checkpoint] () throws -> SlotTable in
            do {
                while let chunk = try pipe.receive() { try Self.insert(chunk, into: table) }
                guard let position = checkpoint.position else { throw SlotTableError.damaged(path: path, reason: "ids view build cancelled") }
                return try SlotTable.create(path: path, from: table, checkpoint: position)
            } catch {
                pipe.cancel()
                throw error
            }
        }
        if worker.started { self.worker = worker }
    }

    private static func insert(_ pairs: [UInt64], into table: SlotTableBuilder) throws {
        var k = 0
        while k < pairs.count {
            try withUnsafeBytes(of: pairs[k].littleEndian) { try table.add($0, position: pairs[k + 1]) }
            k += 2
        }
    }

    func add(_ hash: UInt64, position: UInt64) {
        pending.append(hash)
        pending.append(position)
        if pending.count >= Self.chunkValues { send() }
    }

    private func send() {
        guard failure == nil else { return }
        if worker == nil {
            do { try Self.insert(pending, into: table) } catch { failure = error }
        } else if !pipe.send(pending) {
            failure = SlotTableError.damaged(path: path, reason: "ids view builder stopped")
        }
        pending.removeAll(keepingCapacity: true)
    }

    /// Every key is sent; the table is written with `checkpoint` by finish().
    func endOfKeys(checkpoint position: UInt64) {
        send()
        checkpoint.position = position
        pipe.finish()
    }

    /// Waits for the table and returns it (opened), or throws what stopped it.
    func finish() throws -> SlotTable {
        if let worker {
            do { return try worker.join() } catch {
                throw failure ?? error
            }
        }
        if let failure { throw failure }
        return try SlotTable.create(path: path, from: table, checkpoint: checkpoint.position ?? 0)
    }

    /// Stops the builder (the caller failed) and waits for it.
    func cancel() {
        pipe.cancel()
        _ = try? worker?.join()
    }
}
