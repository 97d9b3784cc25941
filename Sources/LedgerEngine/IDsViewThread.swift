// The ids view of a rebuild, built on its own thread: the folding thread adds each
// idempotency key's hash and position; they go to a SlotTableWriter as they come (bounded
// memory: beyond its buffer they spill to an unlinked file), and the table is written at
// the end, in one step, with `checkpoint`. A cancelled build writes nothing.

import LedgerStorage

enum IDsViewThread {
    static func start(path: String, checkpoint: UInt64) -> ChunkedWorker<(hash: UInt64, position: UInt64), SlotTable> {
        let table = SlotTableWriter(path: path, keyBytesMax: 8, valueBytes: 0)
        let noValue = UnsafeRawBufferPointer(start: nil, count: 0)
        return ChunkedWorker(chunkItems: 8192, chunksMax: 8, consume: { chunk in
            for (hash, position) in chunk {
                try withUnsafeBytes(of: hash.littleEndian) { try table.add(key: $0, appliedPosition: position, value: noValue) }
            }
        }, finish: {
            try table.finish(checkpoint: checkpoint)
        })
    }
}
