import Foundation
@testable import LedgerDomain
@testable import LedgerEngine
@testable import LedgerStorage
import LedgerTestSupport
import Testing

/// The pieces a replay runs on other threads, and the snapshot encoder it shares with `ledger snapshot`.
@Suite struct ReplayPartsTests {
    struct Boom: Error {}

    final class Log: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [Int] = []
        func add(_ i: Int) { lock.lock(); items.append(i); lock.unlock() }
        var all: [Int] { lock.lock(); defer { lock.unlock() }; return items }
    }

    @Test func aSerialWorkerRunsJobsInOrderAndThrowsTheFirstFailure() throws {
        let done = Log()
        let worker = SerialWorker.start()
        for i in 0..<20 { worker.add { done.add(i) } }
        worker.end()
        try worker.result()
        #expect(done.all == Array(0..<20))

        let failing = SerialWorker.start()
        let after = Log()
        failing.add { throw Boom() }
        // Jobs after the failure are dropped (the worker stopped), never run out of order.
        for i in 0..<5 { failing.add { after.add(i) } }
        failing.end()
        #expect(throws: Boom.self) { try failing.result() }
        #expect(after.all.isEmpty)
        // Cancelled: what waits is dropped, and the result says it was stopped.
        let cancelled = SerialWorker.start()
        cancelled.cancel()
        #expect(throws: ChunkedWorker<SerialWorker.Job, Void>.Cancelled.self) { try cancelled.result() }
    }

    @Test func theIDsViewThreadWritesTheTableOnlyWhenEveryKeyWasSent() throws {
        let dir = TemporaryDirectory()
        let path = dir.path + "/ids.tbl"
        // Cancelled: nothing is written, whatever was sent.
        let cancelled = IDsViewThread.start(path: path, checkpoint: 5000)
        for p in 1...5000 { cancelled.add((UInt64(p) &* 0x9E37_79B9_7F4A_7C15, UInt64(p))) }
        cancelled.cancel()
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(!FileManager.default.fileExists(atPath: path + ".new"))

        // Finished: the table holds every key, with the checkpoint given.
        let ids = IDsViewThread.start(path: path, checkpoint: 5000)
        for p in 1...5000 { ids.add((UInt64(p) &* 0x9E37_79B9_7F4A_7C15, UInt64(p))) }
        ids.end()
        let table = try ids.result()
        #expect(table.count == 5000 && table.checkpoint == 5000)
        for p in [1, 2500, 5000] {
            let key = withUnsafeBytes(of: (UInt64(p) &* 0x9E37_79B9_7F4A_7C15).littleEndian) { Array($0) }
            #expect(try table.find(key)?.appliedPosition == UInt64(p))
        }
    }

    /// The snapshot payload as FORMAT.md describes it, written field by field.
    static func referencePayload(_ accounts: [Account]) -> [UInt8] {
        var out: [UInt8] = []
        func le<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        le(UInt32(accounts.count))
        for a in accounts.sorted(by: { Array($0.id.name.utf8).lexicographicallyPrecedes(Array($1.id.name.utf8)) }) {
            let name = Array(a.id.name.utf8), code = Array(a.currency.code.utf8)
            le(UInt16(name.count))
            out += name + [UInt8](repeating: 0, count: 64 - name.count)
            out += code + [UInt8](repeating: 0, count: 12 - code.count)
            out += [UInt8(a.scale), a.status.rawValue, 0, 0]
            le(a.overdraft); le(a.balance); le(a.version); le(a.lastPosition); le(a.openedPosition); le(UInt32(0))
        }
        return out
    }

    @Test func snapshotPayloadsMatchTheDocumentedLayoutAndDecodeBack() throws {
        var rng = SplitMix64(seed: 11)
        let alphabet = Array("abcXYZ09_-.:/")
        var accounts: [Account] = []
        var names = Set<String>()
        while accounts.count < 300 {
            let length = Int.random(in: 1...64, using: &rng)
            let name = String((0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] })
            guard names.insert(name).inserted else { continue }
            let code = ["USD", "EUR", "X", "ABCDEFGHIJKL"][Int.random(in: 0..<4, using: &rng)]
            var a = Account(id: AccountID(trusted: name), currency: Currency(trusted: code), scale: Int.random(in: 0...18, using: &rng),
                            overdraft: Int64.random(in: 0...1_000_000, using: &rng))
            a.balance = Int64.random(in: Int64.min...Int64.max, using: &rng)
            a.version = UInt64.random(in: 1...UInt64.max, using: &rng)
            a.lastPosition = UInt64.random(in: 1...UInt64.max, using: &rng)
            a.openedPosition = UInt64.random(in: 1...UInt64.max, using: &rng)
            a.status = Bool.random(using: &rng) ? .open : .closed
            accounts.append(a)
        }
        let payload = Snapshots.encode(accounts)
        #expect(payload == Self.referencePayload(accounts))
        #expect(try Snapshots.decodeAll(payload) == accounts.sorted { Array($0.id.name.utf8).lexicographicallyPrecedes(Array($1.id.name.utf8)) })
        #expect(Snapshots.encode([]) == [0, 0, 0, 0])
        for a in accounts.prefix(20) { #expect(try StateCodec.decode(id: a.id, StateCodec.encode(a)) == a) }
    }
}
