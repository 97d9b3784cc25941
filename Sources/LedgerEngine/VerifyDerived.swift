// The part of `ledger verify` above the log: every snapshot must equal a fold of the log up
// to its position (and record the chain value there), and the views must equal the fold
// at the head, and every history record must hold the fold's state of its accounts after
// its event. One pass over the log; problems are returned as lines, never thrown.

import LedgerDomain
import LedgerStorage

extension Ledger {
    func verifyDerivedFiles() throws -> [String] {
        var problems: [String] = []
        let log = try openLog()
        let snapshotPositions = try LedgerError.translating { try SnapshotFile.list(directory: layout.snapshotDirectory) }
        var pending = snapshotPositions[...]
        var state = CompactState()
        func checkSnapshots(upTo position: UInt64) {
            while let p = pending.first, p <= position {
                pending = pending.dropFirst()
                let name = SnapshotFile.name(position: p)
                do {
                    let file = try SnapshotFile.read(directory: layout.snapshotDirectory, position: p)
                    if p > log.head.position {
                        problems.append("snapshots/\(name): position \(p) is beyond the head \(log.head.position)")
                        continue
                    }
                    let stored = try Snapshots.decodeAll(file.payload)
                    if Self.sortedAccounts(stored) != Self.sortedAccounts(state.accounts) {
                        problems.append("snapshots/\(name): accounts differ from a fold of the log up to position \(p)")
                    }
                    if let chain = try log.chain(atBatchEnd: p), chain != file.chain {
                        problems.append("snapshots/\(name): recorded chain value differs from the log's at position \(p)")
                    }
                } catch {
                    problems.append("snapshots/\(name): \(error)")
                }
            }
        }
        checkSnapshots(upTo: 0)
        let history = (try? PositionTable.open(path: Views.historyPath(layout), recordBytes: HistoryView.recordBytes, writable: false))
            .flatMap { $0 }.map(HistoryView.init)
        var historyProblems = 0
        var numberProblems = 0
        var historyRecords = HistoryRecords(view: history, through: log.head.position)
        try LedgerError.translating {
            try log.forEach(from: 1) { record in
                let e = try EventCodec.scan(type: record.type, version: record.schemaVersion, payload: record.payload)
                // Each side's account, found by name once (before the event, which only an opening
                // changes: its account is the one the fold found or added).
                let names = (e.account.isEmpty ? nil : e.account, e.other)
                var sides = (names.0.flatMap { state.index(of: $0) }, names.1.flatMap { state.index(of: $0) })
                // Each number an event carries must be the number of the account it names (the fold
                // would fall back to the name; a writer that numbered wrongly is a bug to report).
                for side in 0..<2 where numberProblems < 10 {
                    let (number, name, index) = side == 0 ? (e.accountNumber, names.0, sides.0) : (e.otherNumber, names.1, sides.1)
                    guard number >= 0, let name, index != Int(number) else { continue }
                    numberProblems += 1
                    problems.append("log: the event at position \(record.position) gives account '\(String(decoding: name, as: UTF8.self))' number \(number), which is not its number")
                }
                let touched = state.apply(e, at: record.position)
                if e.type == .accountOpened { sides.0 = touched.account >= 0 ? touched.account : nil }
                if let p = pending.first, p <= record.position { checkSnapshots(upTo: record.position) }
                if history != nil, historyProblems < 10 {
                    for side in 0..<2 {
                        guard let name = side == 0 ? names.0 : names.1 else { continue }
                        let account = (side == 0 ? sides.0 : sides.1).map { state.summary(of: $0) }
                        let node: HistoryView.Node?
                        do { node = try historyRecords.node(at: record.position, nameHash: HistoryView.nameHash(name), version: account?.version ?? 0) } catch {
                            historyProblems += 1
                            problems.append("views/history.tbl: \(error) (run `ledger replay`)")
                            continue
                        }
                        // After the checkpoint a record may not be written yet (the next writer adds it).
                        if node == nil && record.position > historyRecords.view.table.checkpoint { continue }
                        if node?.balance != account?.balance || node.map({ UInt64($0.version) }) != account?.version
                            || node?.closed != (account?.closed ?? false) {
                            historyProblems += 1
                            problems.append("views/history.tbl: the record at position \(record.position) disagrees with a fold of the log for '\(String(decoding: name, as: UTF8.self))' (run `ledger replay`)")
                        }
                    }
                }
                return true
            }
        }
        checkSnapshots(upTo: UInt64.max)
        if let views = try? Views.openForReading(layout, log: log) {
            if Self.sortedAccounts(try views.allAccounts()) != Self.sortedAccounts(state.accounts) {
                problems.append("views/accounts.tbl: accounts differ from a fold of the log (run `ledger replay`)")
            }
        } else if FileSystem.exists(Views.accountsPath(layout)) {
            problems.append("views/accounts.tbl: unreadable or ahead of the log (run `ledger replay`)")
        }
        return problems
    }

    static func sortedAccounts(_ accounts: [Account]) -> [Account] { accounts.sortedByName() }

    /// The history view's records in log order, for a check that asks for each position in turn:
    /// read in large chunks while every record is there and sound, then (after a missing or
    /// damaged one) each alone, so that each problem is still reported at its own position.
    struct HistoryRecords {
        /// nil without a history view (nothing is asked for then).
        let history: HistoryView?
        private var reader: PositionTable.ChunkReader?
        private var chunk: PositionTable.ChunkReader.Chunk?

        var view: HistoryView { history! }

        init(view: HistoryView?, through last: UInt64) {
            history = view
            reader = last >= 1 ? try? view?.records(from: 1, through: last) : nil
        }

        /// `HistoryView.node(at:nameHash:version:)`, for positions asked for in increasing order.
        mutating func node(at position: UInt64, nameHash: UInt32, version: UInt64) throws -> HistoryView.Node? {
            while let reader, chunk.map({ $0.first + UInt64($0.count) <= position }) ?? true {
                do { chunk = try reader.next() } catch { chunk = nil }
                if chunk == nil { self.reader = nil }
            }
            if let chunk, position >= chunk.first, position < chunk.first + UInt64(chunk.count) {
                return HistoryView.node(inPayload: chunk.payload(Int(position - chunk.first)), at: position, nameHash: nameHash, version: version)
            }
            return try view.node(at: position, nameHash: nameHash, version: version)
        }
    }
}
