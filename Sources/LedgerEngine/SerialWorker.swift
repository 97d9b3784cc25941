// Jobs run in order on one background thread while the caller goes on (a replay's
// snapshot writes, while it folds the log). At most two jobs wait; add blocks beyond
// that. The first failure stops the worker: later jobs are dropped and result() throws it.

enum SerialWorker {
    typealias Job = () throws -> Void

    static func start() -> ChunkedWorker<Job, Void> {
        ChunkedWorker(chunkItems: 1, chunksMax: 2, consume: { jobs in
            for job in jobs { try job() }
        }, finish: {})
    }
}
