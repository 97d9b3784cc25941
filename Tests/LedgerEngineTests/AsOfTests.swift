import Foundation
import LedgerDomain
@testable import LedgerEngine
import LedgerStorage
import LedgerTestSupport
import Testing

/// A naive oracle: balances computed directly from the accepted operations, no snapshots, no views.
struct ReferenceModel {
    struct Op { let micros: Int64; let account: String; let delta: Int64; let other: String? }
    var opened: [(Int64, String)] = []
    var ops: [Op] = []

    func balances(atOrBefore micros: Int64) -> [String: Int64] {
        var b: [String: Int64] = [:]
        for (t, name) in opened where t <= micros { b[name] = 0 }
        for op in ops where op.micros <= micros {
            b[op.account, default: 0] += op.delta
            if let other = op.other { b[other, default: 0] -= op.delta }
        }
        return b
    }
}

@Suite struct AsOfTests {
    func ledger(_ dir: TemporaryDirectory, snapshotEvery: Int, segmentBytes: Int) throws -> Ledger {
        let ledger = Ledger(layout: StoreLayout(root: dir.path), lockTimeoutMillis: 1000, clock: .fixed(0))
        _ = try ledger.setConfig("snapshot_every", to: String(snapshotEvery))
        _ = try ledger.setConfig("segment_bytes", to: String(segmentBytes))
        return ledger
    }

    func answer(_ ledger: Ledger, atOrBefore micros: Int64) throws -> [String: Int64] {
        let position = try ledger.position(asOf: Timestamp(micros: micros))
        let (a, _) = try ledger.balances([], atPosition: position)
        // Listed in name order, also when accounts were opened after the snapshot answered from.
        #expect(a.accounts.map(\.id.name) == a.accounts.map(\.id.name).sorted())
        return Dictionary(uniqueKeysWithValues: a.accounts.map { ($0.id.name, $0.balance) })
    }

    /// Random histories; as-of at random times (and at every event, just before and after) equals the oracle.
    @Test(arguments: [1 as UInt64, 2, 3])
    func asOfEqualsNaiveFoldOnRandomHistories(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let dir = TemporaryDirectory()
        let ledger = try ledger(dir, snapshotEvery: Int.random(in: 3...20, using: &rng), segmentBytes: 700)
        var model = ReferenceModel()
        var balances: [String: Int64] = [:]
        var t: Int64 = 1_700_000_000_000_000
        let names = (0..<6).map { "acc\($0)" }
        var times: [Int64] = []
        for step in 0..<220 {
            // Several events may share a timestamp.
            if Int.random(in: 0..<4, using: &rng) > 0 { t += Int64.random(in: 1...5_000_000, using: &rng) }
            let a = names[Int.random(in: 0..<names.count, using: &rng)]
            let id = try AccountID(validating: a)
            let at = Timestamp(micros: t)
            if balances[a] == nil {
                _ = try ledger.append(AppendRequest(command: .open(account: id, currency: Currency(trusted: "USD"), scale: 2, overdraft: nil), at: at))
                balances[a] = 0
                model.opened.append((t, a))
            } else {
                let cents = Int64.random(in: 1...10_000, using: &rng)
                let amount = try DecimalText.parse(Money.format(cents, scale: 2))
                switch Int.random(in: 0..<3, using: &rng) {
                case 0:
                    _ = try ledger.append(AppendRequest(command: .deposit(account: id, amount: amount), at: at))
                    balances[a]! += cents
                    model.ops.append(.init(micros: t, account: a, delta: cents, other: nil))
                case 1 where balances[a]! >= cents:
                    _ = try ledger.append(AppendRequest(command: .withdraw(account: id, amount: amount), at: at))
                    balances[a]! -= cents
                    model.ops.append(.init(micros: t, account: a, delta: -cents, other: nil))
                default:
                    let b = names[(names.firstIndex(of: a)! + 1) % names.count]
                    if let bb = balances[b], balances[a]! >= cents {
                        _ = try ledger.append(AppendRequest(command: .transfer(from: id, to: try AccountID(validating: b), amount: amount), at: at))
                        balances[a]! -= cents
                        balances[b] = bb + cents
                        model.ops.append(.init(micros: t, account: b, delta: cents, other: a))
                    } else {
                        _ = try ledger.append(AppendRequest(command: .deposit(account: id, amount: amount), at: at))
                        balances[a]! += cents
                        model.ops.append(.init(micros: t, account: a, delta: cents, other: nil))
                    }
                }
            }
            times.append(t)
            _ = step
        }
        let first = times.first!, last = times.last!
        var probes = [first - 1, last + 1, Int64.max / 2]
        for t in times { probes += [t - 1, t, t + 1] }
        for _ in 0..<200 { probes.append(Int64.random(in: (first - 10)...(last + 10), using: &rng)) }
        for probe in probes {
            #expect(try answer(ledger, atOrBefore: probe) == model.balances(atOrBefore: probe), "seed \(seed) time \(probe)")
        }
        // Each account alone (the history view's chain walk) agrees with the oracle too.
        let opened = names.filter { balances[$0] != nil }.map { try! AccountID(validating: $0) }
        let head = try ledger.openLog().head.position
        for probe in probes.prefix(300) {
            let position = try ledger.position(asOf: Timestamp(micros: probe))
            let expected = model.balances(atOrBefore: probe)
            for id in opened {
                let (a, _) = try ledger.balances([id], atPosition: position)
                #expect(a.accounts.first?.balance == expected[id.name] ?? 0, "seed \(seed) time \(probe) \(id)")
                if position < head { #expect(a.startPosition == nil && a.replayed == 0, "seed \(seed): not from the history view") }
            }
        }
        // All accounts at every position: folded from the history view's records (the normal
        // path) equals folded from the log (the view set aside), field by field.
        var fromHistory: [[Account]] = []
        for position in 0...head {
            let (a, _) = try ledger.balances([], atPosition: position)
            fromHistory.append(a.accounts)
        }
        let historyPath = dir.path + "/views/history.tbl"
        try FileManager.default.moveItem(atPath: historyPath, toPath: historyPath + ".aside")
        for position in 0...head {
            #expect(try ledger.balances([], atPosition: position).0.accounts == fromHistory[Int(position)], "seed \(seed) position \(position)")
        }
        try FileManager.default.moveItem(atPath: historyPath + ".aside", toPath: historyPath)
        // The newest snapshot damaged: the history fold (started from it, by its name) is done
        // again from the older one used, and the answers stay the same, field by field.
        let snapshots = try SnapshotFile.list(directory: dir.path + "/snapshots")
        if snapshots.count >= 2, let newest = snapshots.last {
            let older = snapshots[snapshots.count - 2]
            FileDamage.flipBit(dir.path + "/snapshots/" + SnapshotFile.name(position: newest), offset: 90)
            for position in (older + 1)...head {
                let (a, _) = try ledger.balances([], atPosition: position)
                #expect(a.accounts == fromHistory[Int(position)], "seed \(seed) position \(position), newest snapshot damaged")
                #expect(a.startPosition == older, "seed \(seed) position \(position)")
            }
        }
        // Every snapshot damaged: same answers, from the log.
        for p in try SnapshotFile.list(directory: dir.path + "/snapshots") {
            FileDamage.flipBit(dir.path + "/snapshots/" + SnapshotFile.name(position: p), offset: 90)
        }
        for probe in probes.prefix(60) {
            #expect(try answer(ledger, atOrBefore: probe) == model.balances(atOrBefore: probe), "seed \(seed) time \(probe), damaged snapshots")
        }
        #expect(ledger.notes.contains { $0.contains("damaged") })
    }

    @Test func asOfAndAtPositionAgreeAndUseSnapshots() throws {
        let dir = TemporaryDirectory()
        let ledger = try ledger(dir, snapshotEvery: 4, segmentBytes: 400)
        let a = try AccountID(validating: "a")
        _ = try ledger.append(AppendRequest(command: .open(account: a, currency: Currency(trusted: "USD"), scale: 2, overdraft: nil),
                                            at: try Timestamp.parse("2024-01-01T00:00:00Z")))
        for day in 2...20 {
            let date = "2024-01-\(day < 10 ? "0" : "")\(day)T10:00:00Z"
            _ = try ledger.append(AppendRequest(command: .deposit(account: a, amount: try DecimalText.parse("\(day)")), at: try Timestamp.parse(date)))
        }
        let log = try ledger.openLog()
        #expect(log.segments.count > 2)
        #expect(try SnapshotFile.list(directory: dir.path + "/snapshots") == [4, 8, 12, 16, 20])
        for position in UInt64(0)...20 {
            let (byPosition, time) = try ledger.balances([], atPosition: position)
            if let time {
                #expect(try ledger.position(asOf: Timestamp(micros: time)) == position)
                let (byTime, _) = try ledger.balances([], atPosition: ledger.position(asOf: Timestamp(micros: time)))
                #expect(byTime.accounts == byPosition.accounts)
            }
            // Started from the newest snapshot at or before, folded only the rest.
            let snapshot = position / 4 * 4
            #expect(byPosition.startPosition == (snapshot == 0 ? nil : snapshot))
            #expect(byPosition.replayed == position - snapshot)
        }
        // A date means the end of that day: the deposit at 10:00 on Jan 5 is included.
        let jan5 = try ledger.position(asOf: try Timestamp.parse("2024-01-05"))
        #expect(jan5 == 5)
        #expect(try ledger.balances([a], atPosition: jan5).0.accounts.first?.balance == (2 + 3 + 4 + 5) * 100)
        // Before the first event: no accounts; a named account shows 0 at version 0.
        #expect(try ledger.position(asOf: try Timestamp.parse("2023-12-31")) == 0)
        #expect(try ledger.balances([], atPosition: 0).0.accounts.isEmpty)
        let named = try ledger.balances([a], atPosition: 0).0.accounts
        #expect(named.count == 1 && named[0].balance == 0 && named[0].version == 0)
        #expect(throws: LedgerError.self) { try ledger.balances([try AccountID(validating: "nobody")], atPosition: 5) }
    }

    /// Two accounts whose names share the history view's 32-bit name hash.
    static func collidingNames() -> (String, String) {
        var seen: [UInt32: String] = [:]
        for i in 0... {
            let name = "k\(i)"
            let h = HistoryView.nameHash(name)
            if let other = seen[h] { return (other, name) }
            seen[h] = name
        }
        fatalError("unreachable")
    }

    @Test func allAccountsAnswersSurviveADamagedHistoryAndNameHashCollisions() throws {
        let dir = TemporaryDirectory()
        // Snapshots at 7, 14, 21: the colliding pair is opened at 18 and 20, inside one fold.
        let ledger = try ledger(dir, snapshotEvery: 7, segmentBytes: 4096)
        let (x, y) = Self.collidingNames()
        #expect(HistoryView.nameHash(x) == HistoryView.nameHash(y) && x != y)
        var t: Int64 = 1_700_000_000_000_000
        func append(_ command: Command) throws {
            t += 1_000_000
            _ = try ledger.append(AppendRequest(command: command, at: Timestamp(micros: t)))
        }
        let usd = Currency(trusted: "USD")
        let (a, b) = (try AccountID(validating: "a"), try AccountID(validating: "b"))
        try append(.open(account: a, currency: usd, scale: 2, overdraft: nil))
        try append(.open(account: b, currency: usd, scale: 2, overdraft: nil))
        for i in 1...12 { try append(.deposit(account: i % 2 == 0 ? a : b, amount: try DecimalText.parse("\(i)"))) }
        try append(.transfer(from: a, to: b, amount: try DecimalText.parse("3")))
        let z = try AccountID(validating: "z")
        try append(.open(account: z, currency: usd, scale: 2, overdraft: nil))
        try append(.close(account: z))
        // Two accounts the view cannot tell apart by hash.
        let (cx, cy) = (try AccountID(validating: x), try AccountID(validating: y))
        try append(.open(account: cx, currency: usd, scale: 0, overdraft: nil))
        try append(.deposit(account: cx, amount: try DecimalText.parse("7")))
        try append(.open(account: cy, currency: usd, scale: 0, overdraft: nil))
        try append(.deposit(account: cy, amount: try DecimalText.parse("9")))
        try append(.deposit(account: b, amount: try DecimalText.parse("1")))
        try append(.deposit(account: cx, amount: try DecimalText.parse("5")))
        try append(.deposit(account: cy, amount: try DecimalText.parse("1")))
        // A transfer between them puts both names' hash on both sides of one record: the history
        // view tells them apart by version (cx has one event more), for lookups and for the
        // commands after it, which read that record back.
        try append(.deposit(account: cx, amount: try DecimalText.parse("1")))
        try append(.transfer(from: cx, to: cy, amount: try DecimalText.parse("4")))
        try append(.deposit(account: cy, amount: try DecimalText.parse("2")))
        try append(.withdraw(account: cx, amount: try DecimalText.parse("1")))
        #expect(try ledger.verifyDerivedFiles().isEmpty)
        let head = try ledger.openLog().head.position
        var answers: [[Account]] = []
        for position in 0...head { answers.append(try ledger.balances([], atPosition: position).0.accounts) }
        let final = Dictionary(uniqueKeysWithValues: answers.last!.map { ($0.id.name, ($0.balance, $0.version, $0.status)) })
        #expect(final["a"]! == (4200 - 300, 8, .open))
        #expect(final["b"]! == (3600 + 300 + 100, 9, .open))
        #expect(final["z"]! == (0, 2, .closed))
        #expect(final[x]! == (8, 6, .open) && final[y]! == (16, 5, .open))
        // Each account alone (the history view's chain walk) agrees at every position.
        for position in 0...head {
            for a in answers[Int(position)] {
                let alone = try ledger.balances([a.id], atPosition: position).0.accounts
                #expect(alone.map(\.balance) == [a.balance] && alone.map(\.version) == [a.version], "\(a.id) at \(position)")
            }
        }
        // The same answers from the log alone (the view set aside).
        let historyPath = dir.path + "/views/history.tbl"
        let intact = try Data(contentsOf: URL(fileURLWithPath: historyPath))
        try FileManager.default.removeItem(atPath: historyPath)
        for position in 0...head { #expect(try ledger.balances([], atPosition: position).0.accounts == answers[Int(position)]) }
        // A damaged history record: noted, and the answer is still right.
        try intact.write(to: URL(fileURLWithPath: historyPath))
        FileDamage.flipBit(historyPath, offset: PositionTable.headerBytes + 7 * HistoryView.recordBytes + 3)
        #expect(try ledger.balances([], atPosition: 8).0.accounts == answers[8])
        #expect(ledger.notes.contains { $0.contains("history view") && $0.contains("CRC") })
    }
}
