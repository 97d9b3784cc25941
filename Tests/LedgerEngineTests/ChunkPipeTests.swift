import Foundation
@testable import LedgerEngine
import LedgerStorage
import Testing

/// The hand-over between an import's threads.
@Suite struct ChunkPipeTests {
    struct Boom: Error, Equatable {}

    @Test func chunksArriveInOrderAndTheProducersErrorAfterThem() throws {
        let pipe = ChunkPipe<[Int]>(chunksMax: 2)
        let producer = Background { () -> Bool in
            for i in 0..<50 { guard pipe.send([i, i + 1000]) else { return false } }
            pipe.finish(throwing: Boom())
            return true
        }
        var received: [[Int]] = []
        #expect(throws: Boom.self) {
            while let chunk = try pipe.receive() { received.append(chunk) }
        }
        #expect(received == (0..<50).map { [$0, $0 + 1000] })
        #expect(try producer.join() == true)
    }

    @Test func cancellingReleasesABlockedProducer() throws {
        let pipe = ChunkPipe<[Int]>(chunksMax: 1)
        let producer = Background { () -> Int in
            var sent = 0
            while pipe.send([sent]) { sent += 1 }
            return sent
        }
        #expect(try pipe.receive() == [0])
        pipe.cancel()
        // The producer was blocked on a full queue (or about to be): it stops without sending more.
        let sent = try producer.join()
        #expect(sent >= 1 && sent <= 2)
        #expect(try pipe.receive() == nil || sent > 1)
    }

    @Test func backgroundWorkReturnsOrThrows() throws {
        #expect(try Background { 6 * 7 }.join() == 42)
        #expect(throws: Boom.self) { try Background { () throws -> Int in throw Boom() }.join() }
    }
}
