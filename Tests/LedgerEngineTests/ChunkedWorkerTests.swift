import Foundation
@testable import LedgerEngine
import Testing

/// A consumer fed in chunks, on its own thread or (when no thread can be started) inline: the
/// same result, the same first failure, the same cancellation either way.
@Suite struct ChunkedWorkerTests {
    struct Boom: Error {}

    /// Collects what the consumer saw (only the consumer touches it while the worker runs).
    final class Seen: @unchecked Sendable {
        var chunks: [[Int]] = []
        var finished = false
    }

    @Test(arguments: [true, false])
    func itemsArriveInChunksAndTheFinishGivesTheResult(threaded: Bool) throws {
        let seen = Seen()
        let worker = ChunkedWorker<Int, Int>(chunkItems: 64, chunksMax: 2, threaded: threaded, consume: { seen.chunks.append($0) },
                                             finish: { seen.finished = true; return seen.chunks.reduce(0) { $0 + $1.reduce(0, +) } })
        for i in 0..<10_000 { worker.add(i) }
        worker.end()
        #expect(try worker.result() == (0..<10_000).reduce(0, +))
        #expect(seen.finished)
        #expect(seen.chunks.flatMap { $0 } == Array(0..<10_000))
        #expect(seen.chunks.allSatisfy { $0.count <= 64 })
    }

    @Test(arguments: [true, false])
    func chunksHandedOverWholeKeepTheirOrderAmongSingleItems(threaded: Bool) throws {
        let seen = Seen()
        let worker = ChunkedWorker<Int, Int>(chunkItems: 64, chunksMax: 2, threaded: threaded, consume: { seen.chunks.append($0) },
                                             finish: { seen.chunks.count })
        var local: [Int] = []
        local.reserveCapacity(worker.chunkItems)
        var next = 0
        for round in 0..<300 {
            // Some items one by one, then some gathered in the producer's own array and handed
            // over (in chunks of chunkItems, and the rest): they arrive in the order handed over.
            for _ in 0..<(round % 5) { worker.add(next); next += 1 }
            for _ in 0..<(round % 197) {
                local.append(next)
                next += 1
                if local.count >= worker.chunkItems { worker.add(chunk: &local) }
            }
            #expect(local.count < worker.chunkItems)
            worker.add(chunk: &local)
            #expect(local.isEmpty && local.capacity >= worker.chunkItems)
        }
        worker.add(chunk: &local)
        worker.end()
        _ = try worker.result()
        #expect(seen.chunks.flatMap { $0 } == Array(0..<next))
    }

    @Test(arguments: [true, false])
    func theFirstFailureIsTheResultAndLaterChunksAreDropped(threaded: Bool) throws {
        let seen = Seen()
        let worker = ChunkedWorker<Int, Int>(chunkItems: 10, chunksMax: 2, threaded: threaded, consume: { chunk in
            seen.chunks.append(chunk)
            if seen.chunks.count == 3 { throw Boom() }
        }, finish: { seen.finished = true; return 0 })
        for i in 0..<1_000 { worker.add(i) }
        worker.end()
        #expect(throws: Boom.self) { try worker.result() }
        #expect(seen.chunks.count == 3)
        #expect(!seen.finished)
    }

    @Test(arguments: [true, false])
    func aCancelledWorkerNeverFinishes(threaded: Bool) throws {
        let seen = Seen()
        let worker = ChunkedWorker<Int, Int>(chunkItems: 10, chunksMax: 2, threaded: threaded, consume: { seen.chunks.append($0) },
                                             finish: { seen.finished = true; return 0 })
        for i in 0..<25 { worker.add(i) }
        worker.cancel()
        #expect(throws: (any Error).self) { try worker.result() }
        #expect(!seen.finished)
    }
}
