import Foundation
import LedgerDomain
@testable import LedgerEngine
import LedgerStorage
import LedgerTestSupport
import Testing

/// The whole log folded in parts on threads of their own (replay of the balances) against the
/// fold in order: the same state, and the same first error.
@Suite struct PartedFoldTests {
    /// A store holding `records` in batches of 1 to 150 over segments of 16 KiB.
    static func store(_ records: [RandomHistory.Record], seed: UInt64) throws -> TemporaryDirectory {
        let dir = TemporaryDirectory()
        var rng = SplitMix64(seed: seed)
        var batches: [[RandomHistory.Record]] = []
        var start = 0
        while start < records.count {
            let end = min(records.count, start + Int.random(in: 1...150, using: &rng))
            batches.append(Array(records[start..<end]))
            start = end
        }
        try LogFixture.append(dir, records: batches, segmentBytes: 16 << 10)
        return dir
    }

    static func inOrder(_ log: Log) throws -> CompactState {
        var state = CompactState()
        try log.forEach(from: 1) { r in
            _ = try state.fold(type: r.type, version: r.schemaVersion, payload: r.payload, at: r.position)
            return true
        }
        return state
    }

    @Test(arguments: [false, true])
    func partsGiveTheStateTheFoldInOrderGives(unsound: Bool) throws {
        let dir = try Self.store(RandomHistory.records(seed: 7, events: 3_000, unsound: unsound), seed: 7)
        let log = try Log.open(directory: dir.logDirectory, lockHeld: true)
        #expect(try LogFixture.segmentPaths(dir).count > 8)
        let expected = try Self.inOrder(log)
        for parts in [1, 2, 3, 7] {
            for chunks in [1, 3, PartedFold.chunksPerPart] {
                let state = try PartedFold.foldAll(log, parts: parts, eventsPerPartMin: 1, chunksPerPart: chunks)
                #expect(state.accounts == expected.accounts, "\(parts) parts, \(chunks) chunks a part")
                #expect(state.position == log.head.position, "\(parts) parts, \(chunks) chunks a part")
            }
            // A long log (here: chunks of at most 70 events) is cut in more chunks.
            let many = try PartedFold.foldAll(log, parts: parts, eventsPerPartMin: 1, chunkEventsMax: 70)
            #expect(many.accounts == expected.accounts, "\(parts) parts, chunks of 70 events")
        }
        // Too few events for a second part: one.
        let one = try PartedFold.foldAll(log, parts: 4, eventsPerPartMin: 2_000)
        #expect(one.accounts == expected.accounts)
        // Progress: totals of every part's events, rising, never past the head, told on this
        // thread (after its own batches: in one chunk a part, it folds at least half the log).
        var told: [UInt64] = []
        let reported = try PartedFold.foldAll(log, parts: 2, eventsPerPartMin: 1, chunksPerPart: 1, progressEvery: 100) { told.append($0) }
        #expect(reported.accounts == expected.accounts)
        #expect(told.count >= 5 && told == told.sorted() && told.last! <= log.head.position, "\(told)")
        // Room made for more or fewer accounts than there are changes nothing.
        for hint in [1, 5_000] {
            #expect(try PartedFold.foldAll(log, parts: 2, eventsPerPartMin: 1, accountsExpected: hint).accounts == expected.accounts)
        }
    }

    /// Damage in a later part, in an earlier one too, and a record that does not decode: the
    /// error is the one a fold in order (one part) meets first.
    @Test func theErrorIsTheOneTheFoldInOrderMeetsFirst() throws {
        var records = RandomHistory.records(seed: 3, events: 3_000, unsound: false)
        // A record of a type no version knows, in the third quarter of the log.
        records[2_400] = (99, 1, [1, 2, 3])
        let undecodable = try Self.store(records, seed: 3)
        let damaged = try Self.store(RandomHistory.records(seed: 3, events: 3_000, unsound: false), seed: 3)
        let segments = try LogFixture.segmentPaths(damaged)
        func flip(_ path: String) throws {
            var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            bytes[bytes.count / 2] ^= 0x20
            try bytes.write(to: URL(fileURLWithPath: path))
        }
        func errors(_ dir: TemporaryDirectory) throws -> [String] {
            let log = try Log.open(directory: dir.logDirectory, lockHeld: true)
            return [(1, 1), (2, 1), (4, 1), (2, 16), (3, 5)].map { parts, chunks in
                do {
                    _ = try PartedFold.foldAll(log, parts: parts, eventsPerPartMin: 1, chunksPerPart: chunks)
                    return "no error"
                } catch {
                    return String(describing: error)
                }
            }
        }
        let bad = try errors(undecodable)
        #expect(bad[0].contains("event at position 2401 does not decode"), "\(bad[0])")
        #expect(Set(bad).count == 1, "\(bad)")
        // Damage near the end, then near the start as well.
        try flip(segments[segments.count - 2])
        let late = try errors(damaged)
        #expect(late[0] != "no error" && Set(late).count == 1, "\(late)")
        try flip(segments[1])
        let early = try errors(damaged)
        #expect(early[0] != late[0] && Set(early).count == 1, "\(early)")
    }

    /// Chunks claimed from both ends by several threads at once: each once, those from the
    /// front before all those from the back; none after the claims are closed.
    @Test func chunksAreClaimedOnceFromBothEnds() throws {
        for count in [1, 2, 7, 500] {
            let claims = ChunkClaims(count: count)
            let others = (0..<3).map { _ in
                Background { () -> [Int] in
                    var mine: [Int] = []
                    while let k = claims.fromBack() { mine.append(k) }
                    return mine
                }
            }
            var front: [Int] = []
            while let k = claims.fromFront() { front.append(k) }
            let back = try others.flatMap { try $0.join() }
            #expect((front + back).sorted() == Array(0..<count), "\(count) chunks")
            #expect(front == Array(0..<front.count) && back.allSatisfy { $0 >= front.count }, "\(count) chunks")
        }
        let closed = ChunkClaims(count: 5)
        #expect(closed.fromFront() == 0 && closed.fromBack() == 4)
        closed.close()
        #expect(closed.fromFront() == nil && closed.fromBack() == nil)
    }
}
