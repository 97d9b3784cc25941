// Jobs run in order on one background thread while the caller goes on (a replay's
// snapshot writes, while it folds the log). At most two jobs wait; submit blocks beyond
// that. The first failure stops the worker: later jobs are dropped and finish() throws it.
// Without a thread, each job runs inside submit.

final class SerialWorker: @unchecked Sendable {
    typealias Job = () throws -> Void
    private let pipe = ChunkPipe<Job>(chunksMax: 2)
    private var worker: Background<Void>?
    private var failure: Error?

    init() {
        let worker = Background { [pipe] in
            do {
                while let jobs = try pipe.receive() {
                    for job in jobs { try job() }
                }
            } catch {
                pipe.cancel()
                throw error
            }
        }
        if worker.started { self.worker = worker }
    }

    func submit(_ job: @escaping Job) {
        guard failure == nil else { return }
        guard worker != nil else {
            do { try job() } catch { failure = error }
            return
        }
        // Refused: the worker stopped on a failure, which finish() throws.
        _ = pipe.send([job])
    }

    /// Waits for every job; throws the first failure.
    func finish() throws {
        pipe.finish()
        try worker?.join()
        if let failure { throw failure }
    }

    /// Stops after the running job (the caller failed) and waits for it.
    func cancel() {
        pipe.cancel()
        _ = try? worker?.join()
    }
}
