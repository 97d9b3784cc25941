// As-of answers, `ledger snapshot` and `ledger replay`.
//
//   --as-of TIME ─► index: last position P with timestamp ≤ TIME (binary search)
//                    │
//   snapshots/ ─────► newest readable snapshot S ≤ P   (damaged → note, try older; none → empty state at 0)
//                    │
//   log ────────────► fold events S+1 … P (seek by index, CRC-checked)  ─► balances at P
//
// Named accounts are answered from the history view when it can: each account's chain
// of states is walked back from its last event to the last one at or before P (O(log n)
// record reads, no snapshot, no replay); the path above is the fallback.

import LedgerDomain
import LedgerStorage

extension Ledger {
    /// Balances as they were at `time` (see balances(_:atPosition:)), the log opened once.
    public func balances(_ ids: [AccountID], asOf time: Timestamp) throws -> BalanceAnswer {
        let log = try openLog()
        let position = try LedgerError.translating { try log.lastPosition(atOrBefore: time.micros) }
        return try balances(ids, atPosition: position, log: log).0
    }

    /// The last position at or before `time` (0 when every event is later).
    public func position(asOf time: Timestamp) throws -> UInt64 {
        let log = try openLog()
        return try LedgerError.translating { try log.lastPosition(atOrBefore: time.micros) }
    }

    /// Balances as they were after `position` (capped at the head). Accounts named in `ids` that did not
    /// exist yet at `position` but exist now are listed with balance 0 and version 0; names unknown
    /// even now are unknown_account. With no `ids`, the accounts that existed at `position`.
    /// `log`: one the caller has open already (else it is opened here).
    public func balances(_ ids: [AccountID], atPosition requested: UInt64, log opened: Log? = nil) throws -> (BalanceAnswer, Int64?) {
        let log = try opened ?? openLog()
        let position = min(requested, log.head.position)
        if !ids.isEmpty, let answer = try historyAnswer(ids, atPosition: position, log: log) {
            let time = position == 0 ? nil : try LedgerError.translating { try log.timestamp(ofPosition: position) }
            return (answer, time)
        }
        // All accounts: the history view's records after the snapshot are folded on another thread
        // while the snapshot is read and decoded here. The snapshot is guessed by name; if it turns
        // out damaged, the fold is done again from the one used.
        let guess = ids.isEmpty ? try newestSnapshotName(atOrBefore: position) : nil
        let folding = guess.flatMap { $0 < position ? startHistoryFold(from: $0 + 1, through: position, log: log) : nil }
        defer { _ = try? folding?.join() }
        var snapshotNotes: [String] = []
        let snapshot = try Snapshots.newest(layout, atOrBefore: position, notes: &snapshotNotes)
        addNotes(snapshotNotes)
        // Start state: every account of the snapshot, or only the named ones (a binary search each).
        var start: [Account] = []
        var startHashes: [UInt32] = []
        if let snapshot {
            do {
                if ids.isEmpty {
                    start = try Snapshots.decodeAll(snapshot.payload)
                    startHashes = try Snapshots.nameHashes(snapshot.payload)
                } else {
                    for id in ids { if let a = try Snapshots.find(Array(id.name.utf8), in: snapshot.payload) { start.append(a) } }
                }
            } catch let error as DomainError {
                throw LedgerError.integrity("snapshot at position \(snapshot.position) does not decode: \(error)")
            }
        }
        let from = (snapshot?.position ?? 0) + 1
        if ids.isEmpty, from <= position {
            let task = guess == from - 1 ? folding : startHistoryFold(from: from, through: position, log: log)
            if let fold = try finishedHistoryFold(task), try fold.apply(to: &start, nameHashes: startHashes, openedAt: { try accountsByOpening(log) }) {
                let time = try LedgerError.translating { try log.timestamp(ofPosition: position) }
                return (BalanceAnswer(position: position, accounts: start, startPosition: snapshot?.position, replayed: position - from + 1), time)
            }
        }
        var state = CompactState(start, position: snapshot?.position ?? 0)
        var replayed: UInt64 = 0
        if from <= position {
            let wanted = ids.map { Array($0.name.utf8) }
            try LedgerError.translating {
                try log.forEach(from: from, through: position) { record in
                    if !wanted.isEmpty && !EventCodec.touches(type: record.type, version: record.schemaVersion, payload: record.payload, anyOf: wanted) { return true }
                    do {
                        state.apply(try EventCodec.scan(type: record.type, version: record.schemaVersion, payload: record.payload), at: record.position)
                    } catch {
                        throw LedgerError.undecodableEvent(at: record.position, error)
                    }
                    replayed += 1
                    return true
                }
            }
        }
        var accounts: [Account]
        if ids.isEmpty {
            // Snapshot order is name order; only accounts opened after the snapshot can break it.
            accounts = state.accounts
            accounts.sortByName()
        } else {
            accounts = []
            var current: BalanceAnswer?
            for id in ids {
                if let a = state.account(named: id.name) {
                    accounts.append(a)
                    continue
                }
                // Not open yet at `position`: 0 if it exists now, else unknown.
                if position == log.head.position { throw unknown(id) }
                if current == nil { current = try balances(ids) }
                guard let now = current?.accounts.first(where: { $0.id == id }) else { throw unknown(id) }
                var before = Account(id: id, currency: now.currency, scale: now.scale, overdraft: now.overdraft)
                before.version = 0
                accounts.append(before)
            }
        }
        let time = position == 0 ? nil : try LedgerError.translating { try log.timestamp(ofPosition: position) }
        return (BalanceAnswer(position: position, accounts: accounts, startPosition: snapshot?.position, replayed: replayed), time)
    }

    /// The named accounts at `position` from the history view, or nil when it cannot answer
    /// (no views yet, a store from before the view, a record missing or damaged).
    private func historyAnswer(_ ids: [AccountID], atPosition position: UInt64, log: Log) throws -> BalanceAnswer? {
        guard let views = try Views.openForReading(layout, log: log, catchUpMax: Views.readerCatchUpMax), let history = views.history else { return nil }
        var accounts: [Account] = []
        do {
            for id in ids {
                guard let now = try views.account(id) else { throw unknown(id) }
                if now.lastPosition <= position {
                    accounts.append(now)
                    continue
                }
                var then = Account(id: id, currency: now.currency, scale: now.scale, overdraft: now.overdraft)
                switch try history.lookup(id.name, head: now.lastPosition, version: now.version, atOrBefore: position) {
                case .unavailable:
                    return nil
                case .notYetOpened:
                    then.version = 0
                case .node(let node):
                    then.balance = node.balance
                    then.version = UInt64(node.version)
                    then.status = node.closed ? .closed : .open
                    then.lastPosition = node.position
                    then.openedPosition = now.openedPosition
                }
                accounts.append(then)
            }
        } catch let error as SlotTableError {
            addNotes(["history view: \(error); answered from snapshots and the log"])
            return nil
        }
        return BalanceAnswer(position: position, accounts: accounts, startPosition: nil, replayed: 0)
    }

    /// The position of the newest snapshot file at or before `position` (0: none), by name only.
    private func newestSnapshotName(atOrBefore position: UInt64) throws -> UInt64 {
        try LedgerError.translating { try SnapshotFile.list(directory: layout.snapshotDirectory) }.last { $0 <= position } ?? 0
    }

    /// The history view's records `from...through` folded on another thread (see HistoryFold).
    private func startHistoryFold(from: UInt64, through: UInt64, log: Log) -> Background<HistoryFold?> {
        let path = Views.historyPath(layout), head = log.head.position
        return Background {
            guard let table = try? PositionTable.open(path: path, recordBytes: HistoryView.recordBytes, writable: false),
                  table.checkpoint <= head else { return nil }
            return try HistoryFold.read(HistoryView(table: table), from: from, through: through)
        }
    }

    /// The fold `task` made; nil when the view cannot answer (missing, ahead of the log, a record
    /// missing or damaged: damage is noted).
    private func finishedHistoryFold(_ task: Background<HistoryFold?>?) throws -> HistoryFold? {
        do {
            return try task?.join()
        } catch let error as SlotTableError {
            addNotes(["history view: \(error); answered from snapshots and the log"])
            return nil
        }
    }

    /// Every account there is now, by the position of its AccountOpened (an account's name,
    /// currency, scale and overdraft never change), read from the accounts view in one pass: an
    /// early as-of may meet thousands of openings. nil without the view.
    private func accountsByOpening(_ log: Log) throws -> [UInt64: Account]? {
        guard let views = try Views.openForReading(layout, log: log, catchUpMax: Views.readerCatchUpMax) else { return nil }
        var all: [UInt64: Account] = [:]
        for a in try views.allAccounts() { all[a.openedPosition] = a }
        return all
    }

    public struct SnapshotResult: Sendable {
        public let position: UInt64
        public let timestampMicros: Int64
        public let accounts: Int
        public let bytes: Int
    }

    /// Writes a snapshot of every account at the head now (and makes the views durable through it).
    public func snapshot() throws -> SnapshotResult {
        try withWriter { writer, config in
            var viewNotes: [String] = []
            let views = try Views.openForWriting(layout, log: writer.log, notes: &viewNotes)
            addNotes(viewNotes)
            guard writer.head.position > 0 else { throw LedgerError.usage("the store has no events to snapshot") }
            try views.checkpoint(through: writer.head.position)
            let accounts = try views.allAccounts()
            try Snapshots.write(layout, accounts: accounts, head: writer.head)
            try Snapshots.prune(layout, every: config.snapshotEvery)
            return SnapshotResult(position: writer.head.position, timestampMicros: writer.head.timestampMicros, accounts: accounts.count,
                                  bytes: SnapshotFile.size(directory: layout.snapshotDirectory, position: writer.head.position))
        }
    }

    public struct ReplayResult: Sendable {
        public let events: UInt64
        public let views: [String]
        public let snapshotsWritten: Int
        public let seconds: Double
    }

    public static let viewNames = Views.Name.allCases.map(\.rawValue)

    /// Rebuilds the views (and with `snapshots`, every retained snapshot) from position 1.
    public func replay(view: String?, snapshots: Bool, progress: ((UInt64, UInt64) -> Void)? = nil) throws -> ReplayResult {
        if let view, !Self.viewNames.contains(view) {
            throw LedgerError.usage("unknown view '\(view)' (known: \(Self.viewNames.joined(separator: ", ")))")
        }
        return try withWriter { writer, config in
            let started = Clock.system.nowMicros()
            let head = writer.head.position
            let rewritesSnapshots = snapshots && config.snapshotEvery > 0
            let targets = rewritesSnapshots
                ? Snapshots.kept(stride(from: UInt64(config.snapshotEvery), through: head, by: config.snapshotEvery).map { $0 }, every: config.snapshotEvery)
                : []
            if rewritesSnapshots {
                for p in try LedgerError.translating({ try SnapshotFile.list(directory: layout.snapshotDirectory) }) {
                    try LedgerError.translating { try FileSystem.remove(layout.snapshotDirectory + "/" + SnapshotFile.name(position: p)) }
                }
            }
            var written = 0
            let targetOrder = targets.sorted()
            var nextTarget = 0
            // Snapshots are written on a second thread while the fold goes on (each holds its own
            // copy of the accounts; at most two wait); no thread when none is to be written.
            let snapshotWriter = targets.isEmpty ? nil : SerialWorker.start()
            // The views asked for (all by default) come from one fold of the log, which visits
            // the state at each snapshot's position (and reports progress then too, every
            // Views.progressEvery events); without snapshots it only reports progress (the
            // balances alone are then folded in parts at once, which report it as they go).
            let visits = !targets.isEmpty
            let nextVisit: (UInt64) -> UInt64 = { after in
                while nextTarget < targetOrder.count && targetOrder[nextTarget] <= after { nextTarget += 1 }
                return min((after / Views.progressEvery + 1) * Views.progressEvery, nextTarget < targetOrder.count ? targetOrder[nextTarget] : .max)
            }
            let visit: (UInt64, Int64, CompactState) throws -> Void = { position, micros, state in
                if position % Views.progressEvery == 0 { progress?(position, head) }
                if targets.contains(position) {
                    let accounts = state.accounts
                    let at = LogHead(position: position, timestampMicros: micros, chain: try self.chainValue(at: position, log: writer.log))
                    snapshotWriter?.add { [layout = self.layout] in try Snapshots.write(layout, accounts: accounts, head: at) }
                    written += 1
                }
            }
            do {
                try Views.rebuild(layout, log: writer.log, views: Set(view.flatMap(Views.Name.init(rawValue:)).map { [$0] } ?? Views.Name.allCases),
                                  nextVisit: visits ? nextVisit : { _ in .max }, visit: visits ? visit : nil,
                                  progress: visits ? nil : progress.map { report in { report($0, head) } })
            } catch {
                snapshotWriter?.cancel()
                throw error
            }
            snapshotWriter?.end()
            try snapshotWriter?.result()
            progress?(head, head)
            let seconds = Double(Clock.system.nowMicros() - started) / 1e6
            return ReplayResult(events: head, views: view.map { [$0] } ?? Self.viewNames, snapshotsWritten: written, seconds: seconds)
        }
    }

    /// The chain value at a batch end, from the commit record there (snapshots record it).
    private func chainValue(at position: UInt64, log: Log) throws -> [UInt8] {
        try LedgerError.translating { try log.chain(atBatchEnd: position) } ?? LogHead.genesisChain
    }
}
