// The ids view of a rebuild, built on its own thread: the folding thread adds each
// idempotency key's hash and position; they go into a table in memory (SlotTableBuilder)
// as they come, and the table is written at the end, in one step, with `checkpoint`.
// A cancelled build writes nothing.

import LedgerStorage

enum IDsViewThread {
    /// `expected`: about how many keys will come (the old view's count; only speed depends on it).
    static func start(path: String, expected: Int, checkpoint: UInt64) -> ChunkedWorker<(hash: UInt64, position: UInt64), SlotTable> {
        let table = SlotTableBuilder(keyBytesMax: 8, expected: expected)
        return ChunkedWorker(chunkItems: 8192, chunksMax: 8, consume: { chunk in
            for (hash, position) in chunk {
                try withUnsafeBytes(of: hash.littleEndian) { try table.add($0, position: position) }
            }
        }, finish: {
            try SlotTable.create(path: path, from: table, checkpoint: checkpoint)
        })
    }
}
