// History records built on their own thread: the caller (an import validating lines, a
// replay folding the log) adds, for every account an event touches, its state after the
// event; HistoryView.Builder turns those into records meanwhile. result() reports a
// failure; an import then drops the view (derived data) for the next writer to rebuild,
// a replay fails. The records are made durable on this thread when the builder ends;
// the caller's checkpoint then only writes the header.

import LedgerDomain
import LedgerStorage

enum HistoryBuilderThread {
    static func start(view: HistoryView) -> ChunkedWorker<HistoryView.Change, Void> {
        let builder = HistoryView.Builder(view)
        return ChunkedWorker(chunkItems: 4096, chunksMax: 8, consume: { chunk in
            try builder.add(chunk)
        }, finish: {
            try builder.finish()
            // Durable here, on this thread, while the caller appends or writes other views.
            try view.table.syncRecords()
        })
    }
}
