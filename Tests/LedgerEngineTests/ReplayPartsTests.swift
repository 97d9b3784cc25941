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

    /// A rebuild hands its visitor the state at exactly the positions `nextVisit` names (asked
    /// first with 0, then with each position visited), whichever views it builds, whether the
    /// events are batches of one (appended one by one) or one batch (imported): the opening
    /// (folded the general way) and two positions in a row among them.
    @Test func aRebuildVisitsExactlyThePositionsAskedForWithTheStateThere() throws {
        let a = try AccountID(validating: "a")
        // Position 1 opens a; position p (2...41) deposits p - 1 cents; position p's time is p µs.
        let appended = TemporaryDirectory(), imported = TemporaryDirectory()
        let ledger = Ledger(layout: StoreLayout(root: appended.path), lockTimeoutMillis: 1000, clock: .fixed(0))
        _ = try ledger.append(AppendRequest(command: .open(account: a, currency: Currency(trusted: "USD"), scale: 2, overdraft: nil), at: Timestamp(micros: 1)))
        for p in 2...41 {
            _ = try ledger.append(AppendRequest(command: .deposit(account: a, amount: try DecimalText.parse(Money.format(Int64(p - 1), scale: 2))),
                                                at: Timestamp(micros: Int64(p))))
        }
        var lines = ["{\"op\":\"open\",\"account\":\"a\",\"at\":\"\(Timestamp(micros: 1).rfc3339)\"}"]
        for p in 2...41 {
            lines.append("{\"op\":\"deposit\",\"account\":\"a\",\"amount\":\"\(Money.format(Int64(p - 1), scale: 2))\",\"at\":\"\(Timestamp(micros: Int64(p)).rfc3339)\"}")
        }
        try Ledger(layout: StoreLayout(root: imported.path), lockTimeoutMillis: 1000, clock: .fixed(0)).importLines(lines.joined(separator: "\n"))
        for dir in [appended, imported] {
            let layout = StoreLayout(root: dir.path)
            let log = try LedgerStorage.Log.open(directory: layout.logDirectory)
            for views in [Set([Views.Name.accounts]), Set(Views.Name.allCases)] {
                var asked: [UInt64] = []
                var visited: [(position: UInt64, folded: UInt64, balance: Int64, micros: Int64)] = []
                try Views.rebuild(layout, log: log, views: views, nextVisit: { after in
                    asked.append(after)
                    return [1, 7, 8, 30].first { $0 > after } ?? .max
                }) { position, micros, state in
                    visited.append((position, state.position, state.account(named: "a")!.balance, micros))
                }
                #expect(asked == [0, 1, 7, 8, 30], "\(dir.path) \(views)")
                #expect(visited.map(\.position) == [1, 7, 8, 30] && visited.map(\.folded) == [1, 7, 8, 30])
                // Deposits of 1...p-1 cents by position p.
                #expect(visited.map(\.balance) == [0, 21, 28, 435] && visited.map(\.micros) == [1, 7, 8, 30], "\(dir.path) \(views)")
            }
        }
    }

    /// A batch's records walked forward: each asked for in turn, the last one again, skipping some.
    @Test func aBatchCursorHandsOutTheRecordsAskedFor() throws {
        let dir = TemporaryDirectory()
        try LogFixture.append(dir, batches: [(1...9).map { "r\($0)" }])
        let log = try LedgerStorage.Log.open(directory: dir.logDirectory)
        try log.forEachBatch(from: 1) { batch in
            var cursor = BatchCursor(batch)
            let asked = [0, 0, 1, 4, 4, 8].map { String(decoding: cursor.record($0).payload, as: UTF8.self) }
            #expect(asked == ["r1", "r1", "r2", "r5", "r5", "r9"])
            return true
        }
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
