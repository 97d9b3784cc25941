// The views (read models) kept beside the log: current account states by name, and
// idempotency keys → position. Each is a SlotTable with a checkpoint: every event up to
// it is applied durably; events after it are re-applied on open, a no-op for slots
// that already reflect them. Views are derived: missing or damaged, they are rebuilt.

import LedgerDomain
import LedgerStorage

final class Views {
    /// Advance the durable checkpoint (one fdatasync of each view) after this many events.
    static let checkpointEvery: UInt64 = 64
    /// The most events a query's reader folds over the views one by one to bring them to the
    /// head (each a slot read and a decode: ≈ 0.5 µs). Views further behind (an import whose
    /// batches are durable and whose views are still being written, a writer that stopped)
    /// make the query answer from the newest snapshot and the log instead, folded in place at
    /// tens of millions of events a second: the same answer.
    static let readerCatchUpMax: UInt64 = 65_536

    let accounts: SlotTable
    let ids: SlotTable
    /// Per-account history; nil for a reader of a store written before it existed.
    let history: HistoryView?
    let writable: Bool
    /// Writer side: the number the next account opened gets. It starts from the accounts view's
    /// checkpoint mark (the accounts opened through its checkpoint) and counts the openings
    /// applied after it (re-applied ones too), so it does not depend on the view's slot count,
    /// which a crash can leave stale.
    private(set) var nextAccountNumber: UInt32
    /// Reader side: events after the checkpoint, folded in memory over the slots.
    private var tailAccounts: [AccountID: Account] = [:]
    private var tailIDs: [String: UInt64] = [:]
    /// How many events were folded after the views' checkpoint to answer.
    private(set) var replayed: UInt64 = 0

    /// The accounts view's content version: 1 since its values record each account's number
    /// (a view of version 0, from before account numbers, is rebuilt).
    static let accountsContentVersion: UInt32 = 1

    static func accountsPath(_ layout: StoreLayout) -> String { layout.viewDirectory + "/accounts.tbl" }
    static func idsPath(_ layout: StoreLayout) -> String { layout.viewDirectory + "/ids.tbl" }
    static func historyPath(_ layout: StoreLayout) -> String { layout.viewDirectory + "/history.tbl" }

    private init(accounts: SlotTable, ids: SlotTable, history: HistoryView?, writable: Bool) {
        self.accounts = accounts
        self.ids = ids
        self.history = history
        self.writable = writable
        nextAccountNumber = UInt32(truncatingIfNeeded: accounts.checkpointMark)
    }

    var checkpoint: UInt64 { min(accounts.checkpoint, ids.checkpoint, history?.table.checkpoint ?? .max) }

    /// The checkpoint recorded in a view file, or nil if it is missing or unreadable.
    static func checkpoint(ofTableAt path: String) -> UInt64? {
        if path.hasSuffix("history.tbl") {
            return (try? PositionTable.open(path: path, recordBytes: HistoryView.recordBytes, writable: false))??.checkpoint
        }
        let shape = path.hasSuffix("ids.tbl") ? (8, 0, 0) : (StateCodec.keyBytesMax, StateCodec.accountBytes, accountsContentVersion)
        return (try? SlotTable.open(path: path, keyBytesMax: shape.0, valueBytes: shape.1, contentVersion: shape.2, writable: false))??.checkpoint
    }

    // MARK: Opening

    /// For the writer (lock held): opens or rebuilds the views and applies the log up to its head.
    static func openForWriting(_ layout: StoreLayout, log: Log, notes: inout [String]) throws -> Views {
        /// The three views, or nil when one is missing or ahead of the log.
        func open() throws -> Views? {
            guard let a = try SlotTable.open(path: accountsPath(layout), keyBytesMax: StateCodec.keyBytesMax, valueBytes: StateCodec.accountBytes,
                                             contentVersion: accountsContentVersion, writable: true),
                  let i = try SlotTable.open(path: idsPath(layout), keyBytesMax: 8, valueBytes: 0, writable: true),
                  let h = try PositionTable.open(path: historyPath(layout), recordBytes: HistoryView.recordBytes, writable: true),
                  a.checkpoint <= log.head.position, i.checkpoint <= log.head.position, h.checkpoint <= log.head.position else { return nil }
            // Records after the head belong to events that were never committed (a failed import).
            try translating { try h.truncate(after: log.head.position) }
            return Views(accounts: a, ids: i, history: HistoryView(table: h), writable: true)
        }
        func rebuilt() throws -> Views {
            try rebuild(layout, log: log)
            guard let views = try open() else { throw LedgerError.integrity("the views rebuilt from the log cannot be opened") }
            return views
        }
        var views: Views
        do {
            if let opened = try open() {
                views = opened
            } else {
                if FileSystem.exists(accountsPath(layout)) || FileSystem.exists(idsPath(layout)) {
                    notes.append("views were missing or ahead of the log; rebuilt from the log")
                }
                views = try rebuilt()
            }
            try views.catchUp(log)
        } catch let error as SlotTableError {
            guard case .damaged = error else { throw translate(error) }
            notes.append("\(error); rebuilt from the log")
            views = try translating { try rebuilt() }
            try translating { try views.catchUp(log) }
        }
        return views
    }

    /// For readers (no lock): the views plus the log after their checkpoint, folded in memory.
    /// nil when there are no views yet: the caller folds the log instead.
    static func openForReading(_ layout: StoreLayout, log: Log, catchUpMax: UInt64 = .max) throws -> Views? {
        do {
            guard let a = try SlotTable.open(path: accountsPath(layout), keyBytesMax: StateCodec.keyBytesMax, valueBytes: StateCodec.accountBytes,
                                             contentVersion: accountsContentVersion, writable: false),
                  let i = try SlotTable.open(path: idsPath(layout), keyBytesMax: 8, valueBytes: 0, writable: false),
                  a.checkpoint <= log.head.position, i.checkpoint <= log.head.position,
                  log.head.position - min(a.checkpoint, i.checkpoint) <= catchUpMax else { return nil }
            let h = try? PositionTable.open(path: historyPath(layout), recordBytes: HistoryView.recordBytes, writable: false)
            let views = Views(accounts: a, ids: i, history: h.map(HistoryView.init), writable: false)
            try views.catchUp(log)
            return views
        } catch let error as SlotTableError {
            guard case .damaged = error else { throw translate(error) }
            return nil
        }
    }

    static func translate(_ error: SlotTableError) -> LedgerError {
        switch error {
        case .io(let e): return .io(e)
        case .damaged(_, _): return .integrity(error.description)
        }
    }

    /// The views, by the names `ledger replay --view` takes.
    enum Name: String, CaseIterable {
        case accounts, ids, history
    }

    /// How often (in events folded) a replay reports progress.
    static let progressEvery: UInt64 = 65_536

    /// Folds the whole log and writes the views in `names` again from it, durable through the
    /// head; the others are left as they are (each view has its own checkpoint). `visit` sees
    /// the position, timestamp and state after the event at each position `nextVisit` names
    /// (given the last one visited, or 0; .max: no more), for replay's progress and snapshots.
    /// Handing the state to a closure copies it (four retains and releases), and asking a
    /// predicate about every event costs more than comparing with the next position wanted.
    /// `progress` is told how many events have been folded, now and then (every `progressEvery`
    /// events or so), when nothing is visited.
    static func rebuild(_ layout: StoreLayout, log: Log, views names: Set<Name> = Set(Name.allCases),
                        nextVisit: @escaping (UInt64) -> UInt64 = { _ in .max },
                        visit: ((UInt64, Int64, CompactState) throws -> Void)? = nil,
                        progress: ((UInt64) -> Void)? = nil) throws {
        let balancesAlone = !names.contains(.history) && !names.contains(.ids)
        var nextVisit = nextVisit, visit = visit
        if visit == nil, !balancesAlone, let progress {
            // A fold in order reports progress as a visit (the fold in parts reports it itself).
            nextVisit = { ($0 / progressEvery + 1) * progressEvery }
            visit = { position, _, _ in progress(position) }
        }
        var state = CompactState()
        var visitAt = nextVisit(0)
        // The ids view is built on a thread of its own from (hash, position) pairs sent in chunks.
        let idsThread = names.contains(.ids) ? IDsViewThread.start(path: idsPath(layout), checkpoint: log.head.position) : nil
        // Built under another name and renamed at the end, like the tables: a rebuild that fails
        // half-way leaves the old views in place.
        let historyBuilding = historyPath(layout) + ".build"
        let historyTable = try names.contains(.history)
            ? translating { try PositionTable.create(path: historyBuilding, recordBytes: HistoryView.recordBytes) } : nil
        // The history records are built on a second thread while this one reads and folds the log.
        let builder = historyTable.map { HistoryBuilderThread.start(view: HistoryView(table: $0)) }
        /// HistoryView.nameHash of each account, by its index in `state`.
        var nameHashes: [UInt32] = []
        // What the two threads get, gathered here and handed over a chunk at a time.
        let changesMax = builder?.chunkItems ?? 0, keysMax = idsThread?.chunkItems ?? 0
        // Tested per event instead of binding the optional workers (a retain and release each).
        let buildsHistory = builder != nil, buildsIDs = idsThread != nil
        var changes: [HistoryView.Change] = []
        changes.reserveCapacity(changesMax)
        var keys: [(hash: UInt64, position: UInt64)] = []
        keys.reserveCapacity(keysMax)
        do {
            try LedgerError.translating {
                if balancesAlone && visitAt == .max {
                    // The balances alone, with nothing to visit: the log is folded in parts at
                    // once, one a core, with room made for as many accounts as the view being
                    // replaced holds (a hint, never more than a log of this many events opens).
                    let accountsBefore = (try? SlotTable.open(path: accountsPath(layout), keyBytesMax: StateCodec.keyBytesMax,
                                                              valueBytes: StateCodec.accountBytes, contentVersion: accountsContentVersion,
                                                              writable: false))??.count ?? 0
                    state = try PartedFold.foldAll(log, parts: Processors.online,
                                                   accountsExpected: min(accountsBefore, Int(clamping: log.head.position)), progress: progress)
                } else if balancesAlone {
                    // The balances alone: the log is read ahead on a thread of its own, which also
                    // digests each money event; this one checks each digest against its accounts
                    // and adds it (the three views keep three threads busy on two cores already).
                    try ReadAhead.forEachBatch(log, from: 1, digest: { MoneyDigest(type: $0.type, version: $0.schemaVersion, payload: $0.payload) }) { batch, digests in
                        var cursor = BatchCursor(batch)
                        var k = 0
                        while k < batch.count {
                            // Up to the next position visited, or the batch's end.
                            let stopAt = max(visitAt, batch.firstPosition + UInt64(k))
                            let end = stopAt <= batch.lastPosition ? Int(stopAt - batch.firstPosition) + 1 : batch.count
                            try state.fold(batch, k..<end, digests: UnsafeBufferPointer(rebasing: digests[k..<end]), cursor: &cursor)
                            k = end
                            let position = batch.firstPosition + UInt64(end - 1)
                            if position >= visitAt {
                                visitAt = nextVisit(position)
                                try visit?(position, cursor.record(end - 1).timestampMicros, state)
                            }
                        }
                        return true
                    }
                } else {
                    try log.forEachBatch(from: 1) { batch in
                        try batch.forEach(prefetching: { state.prefetch(type: $0.type, version: $0.schemaVersion, payload: $0.payload) }) { record in
                            let e: RawEvent
                            do { e = try EventCodec.scan(type: record.type, version: record.schemaVersion, payload: record.payload) } catch {
                                throw LedgerError.undecodableEvent(at: record.position, error)
                            }
                            let touched = state.apply(e, at: record.position)
                            if buildsHistory {
                                if touched.account == nameHashes.count && e.type == .accountOpened { nameHashes.append(HistoryView.nameHash(e.account)) }
                                if touched.account >= 0 {
                                    changes.append(historyChange(&state, touched.account, side: 0, of: e, at: record.position, nameHash: nameHashes[touched.account]))
                                }
                                if touched.other >= 0 {
                                    changes.append(historyChange(&state, touched.other, side: 1, of: e, at: record.position, nameHash: nameHashes[touched.other]))
                                }
                                if changes.count >= changesMax { builder?.add(chunk: &changes) }
                            }
                            if buildsIDs {
                                if let id = e.id { keys.append((idHash(id), record.position)) }
                                if let reverses = e.reverses { keys.append((idHash(reversalKey(reverses)), record.position)) }
                                if keys.count >= keysMax { idsThread?.add(chunk: &keys) }
                            }
                            if record.position >= visitAt {
                                visitAt = nextVisit(record.position)
                                try visit?(record.position, record.timestampMicros, state)
                            }
                        }
                        return true
                    }
                }
            }
            builder?.add(chunk: &changes)
            builder?.end()
            idsThread?.add(chunk: &keys)
            idsThread?.end()
            try translating {
                // The ids table is placed and written last of all (its thread gets every key only
                // now): the history and accounts views are finished meanwhile, their fsyncs
                // overlapping its work, before it is waited for.
                try builder?.result()
                if let historyTable {
                    try historyTable.checkpoint(through: log.head.position)
                    do { try FileSystem.rename(historyBuilding, historyPath(layout)) } catch let e as SystemError { throw LedgerError.io(e) }
                }
                if names.contains(.accounts) {
                    let accounts = SlotTableWriter(path: accountsPath(layout), keyBytesMax: StateCodec.keyBytesMax, valueBytes: StateCodec.accountBytes,
                                                   contentVersion: accountsContentVersion, entriesExpected: state.count)
                    // Folded from the first event: account k is the k-th opened, number k.
                    try state.forEachEncodedAccount { _, name, lastPosition, value in
                        try accounts.add(key: name, appliedPosition: lastPosition, value: value)
                    }
                    try accounts.install(checkpoint: log.head.position, mark: UInt64(state.count))
                }
                _ = try idsThread?.result()
            }
        } catch {
            // Both stop (a finished one is only waited for); neither view is installed half-built.
            builder?.cancel()
            idsThread?.cancel()
            throw error
        }
    }

    /// Account `i`'s node in the history record of event `e` (already applied to `state`).
    /// (`state` is inout, though only read, because the caller's is captured by a closure:
    /// passed by value it was copied for every call, four retains and releases.)
    @inline(__always)
    private static func historyChange(_ state: inout CompactState, _ i: Int, side: Int, of e: RawEvent, at position: UInt64,
                                      nameHash: UInt32) -> HistoryView.Change {
        let now = state.summary(of: i)
        return HistoryView.Change(position: position, slot: i, side: side, opened: e.type == .accountOpened,
                                  closed: now.closed, balance: now.balance, version: now.version, head: 0, nameHash: nameHash)
    }

    static func translating<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as SlotTableError { throw translate(e) }
    }

    // MARK: Applying events

    /// Applies every event after the checkpoint (written through when writable, in memory otherwise).
    private func catchUp(_ log: Log) throws {
        let from = checkpoint + 1
        guard from <= log.head.position else { return }
        try log.forEachEvent(from: from) { recorded in
            try apply(recorded)
            return true
        }
        if writable && log.head.position - checkpoint >= Self.checkpointEvery { try checkpoint(through: log.head.position) }
    }

    /// One account's change by an event, before it is written (a nominal type: a tuple's
    /// generic metadata would be built at run time, which a one-event command pays for).
    private struct AccountUpdate {
        let id: AccountID
        let slot: SlotTable.Slot?
        let before: Account?
        let after: Account
        /// Its number: from its slot, or the next one for an account this event opens.
        let number: UInt32?
    }

    /// Applies one event (a no-op for what already reflects it). History inconsistent with the
    /// account slots is thrown as SlotTableError.damaged, which makes the writer rebuild the views.
    func apply(_ recorded: RecordedEvent) throws {
        let body = recorded.event.body
        let position = recorded.position
        // Each account's state before and after, then the history record, then the slots: a slot
        // that reflects an event implies that its history record exists.
        var updates: [AccountUpdate] = []
        for id in body.accounts {
            let slot = try Self.translating { try accounts.find(Array(id.name.utf8)) }
            // An account this event opens is the next one (whether or not its slot was written
            // before a crash); one opened at or before the view's checkpoint is already counted.
            var openedNumber: UInt32?
            if writable, case .accountOpened = body, position > accounts.checkpoint,
               try slot.map({ try decode(id, $0.value).openedPosition == position }) ?? true {
                openedNumber = nextAccountNumber
                nextAccountNumber += 1
            }
            if let slot, slot.appliedPosition >= position, tailAccounts[id] == nil { continue }
            let current: Account?
            if let tail = tailAccounts[id] {
                current = tail
            } else if let slot {
                current = try decode(id, slot.value)
            } else {
                current = nil
            }
            if let current, current.lastPosition >= position { continue }
            guard let next = current.map({ $0.applying(body, at: position) }) ?? Account.opened(body, at: position) else {
                throw LedgerError.integrity("event at position \(position) touches account '\(id)' before it was opened")
            }
            let number = slot.flatMap { StateCodec.number($0.value) } ?? openedNumber
            updates.append(AccountUpdate(id: id, slot: slot, before: current, after: next, number: number))
        }
        // Nothing to update: every account reflects the event, so its record exists (no read needed).
        if writable, let history, !updates.isEmpty, try history.table.read(position) == nil {
            guard updates.count == body.accounts.count else {
                throw SlotTableError.damaged(path: history.table.path, reason: "no record for position \(position), which the accounts view reflects")
            }
            let builder = HistoryView.Builder(history)
            for (k, u) in updates.enumerated() {
                try builder.add(HistoryView.Change(position: position, slot: k, side: HistoryView.side(of: u.id, in: body),
                                                   opened: u.before == nil, closed: u.after.status == .closed, balance: u.after.balance,
                                                   version: u.after.version, head: u.before?.lastPosition ?? 0, nameHash: HistoryView.nameHash(u.id.name)))
            }
            try builder.finish()
            try history.table.flush()
        }
        for u in updates {
            if writable {
                try Self.translating {
                    if let slot = u.slot {
                        try accounts.overwrite(slot.index, key: Array(u.id.name.utf8), appliedPosition: position, value: StateCodec.encode(u.after, number: u.number))
                    } else {
                        try accounts.insert(key: Array(u.id.name.utf8), appliedPosition: position, value: StateCodec.encode(u.after, number: u.number))
                    }
                }
            } else {
                tailAccounts[u.id] = u.after
            }
        }
        var keys = [recorded.event.metadata.id].compactMap { $0 }
        if case .moneyReversed(let reverses, _, _, _) = body { keys.append(Self.reversalKey(reverses)) }
        for key in keys {
            if writable {
                let hashKey = Self.idKey(key)
                var present = false
                try Self.translating {
                    try ids.forEachSlot(withKey: hashKey) { slot in
                        if slot.appliedPosition == position { present = true; return false }
                        return true
                    }
                    if !present { try ids.insert(key: hashKey, appliedPosition: position, value: []) }
                }
            } else if tailIDs[key] == nil {
                tailIDs[key] = position
            }
        }
        replayed += 1
    }

    func checkpoint(through position: UInt64) throws {
        try Self.translating {
            try history?.table.checkpoint(through: position)
            try accounts.checkpoint(through: position, mark: writable ? UInt64(nextAccountNumber) : nil)
            try ids.checkpoint(through: position)
        }
    }

    private func decode(_ id: AccountID, _ value: [UInt8]) throws -> Account {
        do { return try StateCodec.decode(id: id, value) } catch {
            throw LedgerError.integrity("view state of '\(id)' does not decode: \(error)")
        }
    }

    // MARK: Queries

    func account(_ id: AccountID) throws -> Account? { try numberedAccount(id)?.account }

    /// Account `id` and, for a writer, its number (events carry it); nil if there is no such account.
    func numberedAccount(_ id: AccountID) throws -> (account: Account, number: UInt32?)? {
        if let tail = tailAccounts[id] { return (tail, nil) }
        // A writer's count is exact: an empty table holds no account, and is not read (an
        // import into a new store would read it once for each of its accounts).
        if writable && accounts.count == 0 { return nil }
        guard let slot = try Self.translating({ try accounts.find(Array(id.name.utf8)) }) else { return nil }
        let account = try decode(id, slot.value)
        guard let number = StateCodec.number(slot.value) else {
            throw LedgerError.integrity("view state of '\(id)' records no account number")
        }
        return (account, number)
    }

    /// Every account, sorted by name; `changed` (an import's final states, not installed yet)
    /// over the view's.
    func allAccounts(updatedBy changed: [NumberedAccount] = []) throws -> [Account] {
        var all: [AccountID: Account] = [:]
        try Self.translating {
            try accounts.forEachSlot { slot in
                let id = AccountID(trusted: String(decoding: slot.key, as: UTF8.self))
                all[id] = try decode(id, slot.value)
            }
        }
        for (id, a) in tailAccounts { all[id] = a }
        for (a, _) in changed { all[a.id] = a }
        return Array(all.values).sortedByName()
    }

    /// Positions whose event may carry idempotency key `key` (hash matches; the caller checks the event).
    func positions(forID key: String) throws -> [UInt64] {
        var out: [UInt64] = []
        if let p = tailIDs[key] { out.append(p) }
        try positions(forIDHash: Self.idHash(key)) { out.append($0) }
        return out
    }

    /// Whether the ids table holds any key (when it holds none, no lookup needs a read).
    var holdsIDs: Bool { ids.count > 0 }

    /// Positions in the ids table whose key has hash `hash` (a probe of a few slots).
    func positions(forIDHash hash: UInt64, _ visit: (UInt64) throws -> Void) throws {
        guard ids.count > 0 else { return }
        try Self.translating {
            try withUnsafeBytes(of: hash.littleEndian) { try ids.forEachPosition(withKey: $0, visit) }
        }
    }

    // MARK: After an import

    /// An account's state and its number, as the accounts view records them.
    typealias NumberedAccount = (account: Account, number: UInt32)

    /// The ids view with an import's `keyCount` keys added (8-byte hashes, as `forEachKey` yields
    /// them with their positions), written again under a temporary name — or nil when they are
    /// few enough to insert one by one. `laidOut`: the same keys in a KeyTable, when the import
    /// kept them all there; the view is then written from its layout (with the view's own keys
    /// laid out with them, up to 32 MiB), nothing sorted.
    /// Changes nothing in place: it may run on another thread while the log is appended.
    func prepareImportKeys(keyCount: Int, laidOut: KeyTable?,
                           forEachKey: ((UInt64, UInt64) throws -> Void) throws -> Void) throws -> PreparedSlotTable? {
        guard keyCount > max(1024, ids.count / 8) else { return nil }
        return try Self.translating {
            if let laidOut, let table = try ids.prepareInsertMany(laidOut: laidOut) { return table }
            return try ids.prepareInsertMany(adding: keyCount) { add in
                try withoutActuallyEscaping(add) { add in
                    try forEachKey { hash, position in try withUnsafeBytes(of: hash.littleEndian) { try add($0, position) } }
                }
            }
        }
    }

    /// The accounts view with the accounts an import changed (final states) written over their
    /// entries or added, written again under a temporary name — or nil when they are few enough
    /// to write one by one. Changes nothing in place, like prepareImportKeys.
    func prepareImportAccounts(_ changed: [NumberedAccount]) throws -> PreparedSlotTable? {
        guard changed.count > max(256, accounts.count / 8) else { return nil }
        let names = Set(changed.map { Array($0.account.id.name.utf8) })
        return try Self.translating {
            try accounts.prepareUpsertMany(isReplaced: { names.contains(Array($0)) }) { add in
                for (account, number) in changed {
                    try Array(account.id.name.utf8).withUnsafeBytes { key in
                        try StateCodec.encode(account, number: number).withUnsafeBytes { try add(key, account.lastPosition, $0) }
                    }
                }
            }
        }
    }

    /// Brings the views to `head` after an import: the accounts it changed are written from its
    /// own fold (`accounts`, final states: the table `preparedAccounts` by
    /// prepareImportAccounts, or else one write per account), and its keys are added to the ids
    /// view (the table `preparedKeys` by prepareImportKeys, or else one insert per key).
    /// `next` is the number the next account will get (after those the import opened).
    func finishImport(accounts changed: [NumberedAccount], nextAccountNumber next: UInt32, preparedAccounts: PreparedSlotTable?,
                      preparedKeys: PreparedSlotTable?, forEachKey: ((UInt64, UInt64) throws -> Void) throws -> Void, through head: UInt64) throws {
        precondition(writable && next >= nextAccountNumber)
        nextAccountNumber = next
        try Self.translating {
            if let preparedAccounts {
                try accounts.install(preparedAccounts)
            } else {
                for (account, number) in changed {
                    let key = Array(account.id.name.utf8)
                    if let slot = try accounts.find(key) {
                        try accounts.overwrite(slot.index, key: key, appliedPosition: account.lastPosition, value: StateCodec.encode(account, number: number))
                    } else {
                        try accounts.insert(key: key, appliedPosition: account.lastPosition, value: StateCodec.encode(account, number: number))
                    }
                }
            }
            if let preparedKeys {
                try ids.install(preparedKeys)
            } else {
                try forEachKey { hash, position in
                    try ids.insert(key: Self.idKey(hash: hash), appliedPosition: position, value: [])
                }
            }
        }
        try checkpoint(through: head)
    }

    /// The ids view also indexes reversals, under a key no user id can be (ids have no control characters).
    static func reversalKey(_ position: UInt64) -> String { "\u{1}reverse:\(position)" }

    static func idHash(_ key: String) -> UInt64 {
        var copy = key
        return copy.withUTF8 { idHash(UnsafeRawBufferPointer($0)) }
    }

    /// The 64-bit hash behind idKey (never 0).
    static func idHash(_ key: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in key { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h == 0 ? 1 : h
    }

    /// 8-byte key for an idempotency key: a 64-bit hash; collisions are resolved against the log.
    static func idKey(_ key: String) -> [UInt8] { idKey(hash: idHash(key)) }

    /// The ids view's key for a hash: its 8 little-endian bytes.
    static func idKey(hash: UInt64) -> [UInt8] { withUnsafeBytes(of: hash.littleEndian) { Array($0) } }
}
