// The part of `ledger verify` above the log: every snapshot must equal a fold of the log up
// to its position (and record the chain value there), and the views must equal the fold
// at the head. One pass over the log; problems are returned as lines, never thrown.

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
        try LedgerError.translating {
            try log.forEach(from: 1) { record in
                state.apply(try EventCodec.scan(type: record.type, version: record.schemaVersion, payload: record.payload), at: record.position)
                checkSnapshots(upTo: record.position)
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

    static func sortedAccounts(_ accounts: [Account]) -> [Account] { accounts.sorted { $0.id < $1.id } }
}
