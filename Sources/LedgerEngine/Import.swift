// `ledger import`: many operations under one writer lock. Every line is validated
// against the state including the lines before it. Each batch is written to the log as
// soon as it is built, without its commit record (StagedAppend: until that record is
// there, the batch does not exist for any reader or opener), so by default a bad line
// appends nothing: the staged batches are cut off again. Once every line is valid the
// commit records are written one by one (one fdatasync each: group commit) and each
// durable batch is acknowledged.
//
// Memory: the input is read in chunks; the state is one entry per account touched; the
// store's idempotency keys are looked up in the ids view on disk, this import's own cost
// 16 bytes each (KeyTable) up to importKeysInMemoryMax, then are spilled in sorted runs
// (KeyRuns: about 1.3 bytes a key stay in memory); no Event or String is kept per line.
// Kept laid out as the ids view lays them out, the keys of an import into a store with none
// are then written as that view slot by slot, with nothing sorted.

import LedgerDomain
import LedgerStorage

public enum ImportFormat: String, Sendable { case ndjson, csv }

public struct ImportSummary: Sendable {
    public var lines = 0
    public var imported = 0
    public var duplicates = 0
    public var rejected = 0
    public var position: UInt64 = 0
}

extension Ledger {
    public static let importBatchRecords = 10_000
    /// This import's idempotency keys kept in its in-memory set (32 MiB at most); beyond, they
    /// are spilled in sorted runs with Bloom filters (KeyRuns), so memory does not grow with the file.
    public static let importKeysInMemoryMax = 1 << 20
    /// How many lines ahead validation starts loading a line's account states and key slot.
    static let importLookahead = 8
    /// About the length of a short NDJSON line with an idempotency key: an input of known size is
    /// expected to hold up to its size over this many keys, and the import's key set starts that
    /// large (up to importKeysInMemoryMax) instead of doubling its way there (each doubling
    /// re-inserts every key into fresh memory: 1 M lines, interleaved medians of 11, CPU
    /// 1.80 → 1.73 s). Shorter lines (CSV) only make the set grow, as it did before.
    static let importKeyedLineBytesMin = 64

    /// Imports the operations `read` yields (a chunk reader: bytes read, 0 at the end).
    /// `validated(line)` is called as lines are checked (every few thousand, with the last one's
    /// number); `committed(line, position)` after each durable batch; with `continueOnError`,
    /// `rejected(line, error)` is called for each bad line and the rest go on.
    /// `keysInMemoryMax`: how many of its own idempotency keys the import keeps in memory before
    /// it spills them (the tests make it small). `inputBytes`: the input's size, when known (a
    /// file, not a pipe), to size the key set from the start.
    public func importOperations(reading read: @escaping (UnsafeMutableRawBufferPointer) throws -> Int, format: ImportFormat,
                                 continueOnError: Bool, keysInMemoryMax: Int = Ledger.importKeysInMemoryMax, inputBytes: Int? = nil,
                                 validated: (Int) -> Void = { _ in },
                                 committed: (Int, UInt64) -> Void,
                                 rejected: (Int, LedgerError) -> Void) throws -> ImportSummary {
        try withWriter { writer, config in
            var notes: [String] = []
            let views = try Views.openForWriting(layout, log: writer.log, notes: &notes)
            addNotes(notes)
            let expectedKeys = min(keysInMemoryMax, (inputBytes ?? 0) / Ledger.importKeyedLineBytesMin)
            var run = try ImportRun(writer: writer, views: views, config: config, clock: clock, ledger: self,
                                    keysInMemoryMax: keysInMemoryMax, expectedKeys: expectedKeys)
            let lines = LineReader(read)
            let parser = ImportParser(lines: lines, format: format, config: config)
            parser.start()
            defer { parser.stop() }
            // History records are written as lines are accepted (after the head, where no reader looks);
            // if the import stops, they are cut off again.
            let startHead = writer.head.position
            do {
                while let chunk = try parser.next() {
                    try run.apply(chunk, continueOnError: continueOnError, rejected: rejected)
                    if let last = chunk.lines.last { validated(last.number) }
                }
                try run.finishValidation(lastLine: lines.lineNumber)
            } catch {
                run.history?.cancel()
                try? views.history?.table.truncate(after: startHead)
                run.discardStaged()
                throw error
            }

            // Everything validated: append, one durable batch at a time, while the ids view with
            // this import's keys and the accounts view with its final states are written again
            // on the other core (when there are enough of them to make that cheaper).
            let first = writer.head.position + 1
            defer { run.history?.cancel() }
            let finished = run
            let changed = run.changedAccounts
            // The accounts of the snapshot due at the import's end, listed now (the view is not
            // rewritten yet): the snapshot is then written as soon as the append is durable,
            // while the ids view is still being written on the other core.
            let last = run.validatedThrough
            let snapshotAccounts = last >= first && Snapshots.due(first: first, last: last, every: config.snapshotEvery)
                ? try views.allAccounts(updatedBy: changed) : nil
            let prepared = Background {
                (keys: try views.prepareImportKeys(keyCount: finished.newKeyCount, laidOut: finished.laidOutKeys,
                                                   forEachKey: finished.forEachNewKey),
                 accounts: try views.prepareImportAccounts(changed))
            }
            defer { _ = try? prepared.join() }
            try run.appendAll(committed: committed)
            var summary = run.summary
            summary.position = writer.head.position
            if let snapshotAccounts {
                try Snapshots.write(layout, accounts: snapshotAccounts, head: writer.head)
                try Snapshots.prune(layout, every: config.snapshotEvery)
            }
            // The history view is derived: a failing build does not fail the import; the view is
            // dropped and the next writer rebuilds it.
            do { try Views.translating { try run.history?.result() } } catch {
                addNotes(["history view: \(error); it is rebuilt by the next command"])
                try? FileSystem.remove(Views.historyPath(layout))
            }
            guard writer.head.position >= first else { return summary }
            let tables = try prepared.join()
            try views.finishImport(accounts: changed, nextAccountNumber: run.nextAccountNumber, preparedAccounts: tables.accounts,
                                   preparedKeys: tables.keys, forEachKey: run.forEachNewKey,
                                   through: writer.head.position)
            return summary
        }
    }
}

/// The state of one import while its lines are validated: accounts as of the line being
/// checked, the ids seen, and the batches built so far.
private struct ImportRun {
    let writer: LogWriter
    let views: Views
    let clock: Clock
    let ledger: Ledger
    /// The log's head when the import started: positions after it are this import's.
    let startHead: UInt64
    var summary = ImportSummary()

    /// The accounts touched so far, as of the line being checked.
    private var accounts: ImportAccounts
    /// This import's idempotency keys (the store's are in the ids view): the newest in memory,
    /// the rest spilled.
    private var keys: KeyTable
    private let spilledKeys: KeyRuns
    /// Whether any key was spilled, and whether the store's ids view holds any key: kept here,
    /// so that the common case (neither) reads no class property per line (each read of one was
    /// a run-time exclusivity check, ≈ 3 % of the validating thread).
    private var keysSpilled = false
    private let storeHoldsIDs: Bool
    private let keysInMemoryMax: Int
    /// Positions reversed by this import → the position of their reversal (a second one is rejected).
    private var reversedHere: [UInt64: UInt64] = [:]
    private var keysAdded = 0
    /// The batches built so far, written to the log without their commit records.
    private let staged: StagedAppend
    private var batch: Batch
    private var batchLastLines: [Int] = []
    private var lastMicros: Int64
    private var payload = ByteWriter()
    /// Builds the history records on their own thread.
    let history: ChunkedWorker<HistoryView.Change, Void>?
    /// Its changes, gathered here and handed over a chunk at a time.
    private var historyChanges: [HistoryView.Change] = []

    init(writer: LogWriter, views: Views, config: StoreConfig, clock: Clock, ledger: Ledger, keysInMemoryMax: Int, expectedKeys: Int) throws {
        self.writer = writer
        self.keysInMemoryMax = max(1, keysInMemoryMax)
        keys = KeyTable(minimumCapacity: expectedKeys)
        spilledKeys = KeyRuns(directory: writer.log.directory)
        storeHoldsIDs = views.holdsIDs
        self.views = views
        self.clock = clock
        self.ledger = ledger
        startHead = writer.head.position
        accounts = ImportAccounts(firstNewNumber: Int(views.nextAccountNumber))
        staged = StagedAppend(writer)
        batch = writer.makeBatch()
        lastMicros = writer.head.position == 0 ? Int64.min : writer.head.timestampMicros
        history = views.history.map { HistoryBuilderThread.start(view: $0) }
    }

    // MARK: Accounts

    /// Starts loading the memory a later `apply` of a line with these accounts and key looks at
    /// (cache misses otherwise: thousands of accounts, a million keys).
    private func prefetch(_ request: ImportRequest) {
        accounts.prefetch(number: request.first)
        accounts.prefetch(number: request.second)
        if request.idHash != 0 {
            keys.prefetch(slotHash: request.idSlotHash)
            if keysSpilled { spilledKeys.prefetch(request.idHash) }
        }
    }

    /// Accounts that changed, in their final state.
    var changedAccounts: [Views.NumberedAccount] { accounts.changed(after: startHead) }
    /// The number the next account opened after this import gets.
    var nextAccountNumber: UInt32 { accounts.nextNumber }

    // MARK: Lines

    /// Validates and records a chunk of lines. With `continueOnError`, a bad line is passed to
    /// `rejected` and the rest go on; otherwise its error (naming the line) ends the import.
    mutating func apply(_ chunk: ParsedChunk, continueOnError: Bool, rejected: (Int, LedgerError) -> Void) throws {
        accounts.add(numbered: chunk.newNames)
        var failures = chunk.failures.makeIterator()
        let lookahead = Ledger.importLookahead
        try chunk.lines.withUnsafeBufferPointer { lines in
            try chunk.text.withUnsafeBytes { text in
                for k in lines.indices {
                    // The state and key lookups of a line a few ahead start loading now.
                    if k + lookahead < lines.count, let ahead = lines[k + lookahead].request {
                        prefetch(ahead)
                    }
                    summary.lines += 1
                    let number = lines[k].number
                    do {
                        guard let request = lines[k].request else { throw failures.next()! }
                        try apply(request, text: text, opens: chunk.opens, line: number)
                    } catch let error as LedgerError {
                        // A bad line may be skipped; a failing disk or damaged store stops the import.
                        guard continueOnError, error.concernsTheLine else { throw error.onLine(number) }
                        summary.rejected += 1
                        rejected(number, error)
                    }
                }
            }
        }
    }

    /// Validates and records one line; `text` holds its id and memo bytes, `opens` an open's fields.
    @inline(__always)
    mutating func apply(_ request: ImportRequest, text: UnsafeRawBufferPointer, opens: [ImportRequest.Open], line: Int) throws {
        // The event its idempotency key was used for before, if any: looked up once, here (most
        // lines have no key, or one whose hash was never seen: no lookup).
        var earlier: Event?
        if request.idHash != 0, mayBeRepeated(request), let key = ImportRequest.string(request.id, in: text) {
            earlier = try earlierEvent(withID: key, request: request)
        }
        if earlier == nil, try applyMoney(request, text: text, line: line) { return }
        try applyDeciding(request, earlier: earlier, text: text, opens: opens, line: line)
    }

    /// A line that is not money moved as Decide would accept (an open, close or reversal, a
    /// repeated id, a line to reject): its Command goes through Decide.
    private mutating func applyDeciding(_ request: ImportRequest, earlier: Event?, text: UnsafeRawBufferPointer,
                                        opens: [ImportRequest.Open], line: Int) throws {
        let command = request.command(opens: opens) { accounts.ids[accounts.index(ofNumber: $0)] }
        let options = CommandOptions(metadata: request.metadata(text: text))
        // A reversal works on the accounts of the event it undoes (stored, or earlier in this import).
        var original: Event?
        var i: Int?, j: Int?
        if case .reverse(let p) = request.operation {
            original = p >= 1 ? try event(at: p) : nil
            guard let original else { throw LedgerError.usage("no event at position \(p)") }
            let (f, t) = Self.accounts(of: original.body)
            i = f.map { accounts.index(named: $0) }
            j = t.map { accounts.index(named: $0) }
        } else {
            if request.first >= 0 { i = accounts.index(ofNumber: request.first) }
            if request.second >= 0 { j = accounts.index(ofNumber: request.second) }
        }
        if let i { try accounts.load(i, from: views) }
        if let j { try accounts.load(j, from: views) }
        let first = i.map { accounts.ids[$0] }, second = j.map { accounts.ids[$0] }
        let a = i.flatMap { accounts.account($0) }, b = j.flatMap { accounts.account($0) }
        let lookup: (AccountID) -> Account? = { id in id == first ? a : id == second ? b : nil }

        if let earlier, let key = options.metadata.id {
            guard Decide.sameRequest(command, options, recorded: earlier, accounts: lookup) else {
                throw LedgerError.rejected(code: Rejection.Code.idConflict.rawValue,
                                           message: "id '\(key)' was already used for a different request")
            }
            summary.duplicates += 1
            return
        }
        if try isRepeatedOpen(command, at: request.at, current: a) {
            summary.duplicates += 1
            return
        }
        let event: Event
        do {
            if case .reverse(let p) = command, let original {
                let reversed = try reversedHere[p] != nil || (p <= startHead && ledger.isReversed(p, views: views, log: writer.log))
                event = try Decide.reverse(original, at: p, alreadyReversed: reversed, options: options, accounts: lookup)
            } else {
                event = try Decide.decide(command, options: options, accounts: lookup)
            }
        } catch let e as DomainError { throw Ledger.translate(e) }

        let micros = try timestamp(request.at)
        payload.reset()
        let (type, version) = EventCodec.encode(event, numbers: { id in
            // Decide named only these accounts (existing ones: an opened account is not numbered in its event).
            if let i, id == first { return accounts.number(i) }
            return accounts.number(j!)
        }, into: &payload)
        let position = try record(type: type, version: version, micros: micros, line: line)
        if let i { accounts.set(i, after: event.body, at: position, before: a) }
        if let j { accounts.set(j, after: event.body, at: position, before: b) }
        if let i { addHistory(i, side: HistoryView.side(of: accounts.ids[i], in: event.body), before: a, position: position) }
        if let j { addHistory(j, side: HistoryView.side(of: accounts.ids[j], in: event.body), before: b, position: position) }
        if request.idHash != 0 { try addKey(request.idHash, slotHash: request.idSlotHash, position: position) }
        if case .reverse(let p) = command {
            reversedHere[p] = position
            let hash = Views.idHash(Views.reversalKey(p))
            try addKey(hash, slotHash: KeyTable.slotHash(hash), position: position)
        }
        summary.imported += 1
    }

    /// A deposit, withdrawal or transfer recorded without building a Command or an Event, when
    /// Decide would accept it: open accounts, an amount that fits their scale, the same currency
    /// and scale on both sides, Decide's funds and overflow rules, a time not before the last
    /// event's (the caller found no earlier use of its idempotency key). False when any of that
    /// does not hold: the line then takes the general path, which gives its rejection.
    private mutating func applyMoney(_ request: ImportRequest, text: UnsafeRawBufferPointer, line: Int) throws -> Bool {
        let code: EventCodec.TypeCode
        switch request.operation {
        case .deposit: code = .moneyDeposited
        case .withdraw: code = .moneyWithdrawn
        case .transfer: code = .moneyTransferred
        default: return false
        }
        let i = accounts.index(ofNumber: request.first)
        let j = request.second >= 0 ? accounts.index(ofNumber: request.second) : i
        try accounts.load(i, from: views)
        try accounts.load(j, from: views)
        let from = accounts.funds[i], to = accounts.funds[j]
        guard from.isOpen, to.isOpen, let units = try? request.amount!.minorUnits(scale: Int(from.scale)) else { return false }
        switch code {
        case .moneyDeposited:
            guard Decide.canCredit(balance: from.balance, units) else { return false }
        case .moneyWithdrawn:
            guard Decide.canDebit(balance: from.balance, overdraft: from.overdraft, units) else { return false }
        default:
            guard to.scale == from.scale, to.currency == from.currency,
                  Decide.canDebit(balance: from.balance, overdraft: from.overdraft, units),
                  Decide.canCredit(balance: to.balance, units) else { return false }
        }
        if let at = request.at, at.micros < lastMicros { return false }

        let micros = try timestamp(request.at)
        payload.reset()
        let (type, version) = EventCodec.encodeMoney(code, (accounts.ids[i], accounts.number(i)),
                                                     code == .moneyTransferred ? (accounts.ids[j], accounts.number(j)) : nil,
                                                     amount: units, into: &payload) {
            EventCodec.encodeMetadata(id: ImportRequest.bytes(request.id, in: text), memo: ImportRequest.bytes(request.memo, in: text), into: &$0)
        }
        let position = try record(type: type, version: version, micros: micros, line: line)
        accounts.move(i, code == .moneyDeposited ? units : 0 &- units, at: position)
        addHistory(i, side: 0, head: from.lastPosition, position: position)
        if code == .moneyTransferred {
            accounts.move(j, units, at: position)
            addHistory(j, side: 1, head: to.lastPosition, position: position)
        }
        if request.idHash != 0 { try addKey(request.idHash, slotHash: request.idSlotHash, position: position) }
        summary.imported += 1
        return true
    }

    /// The timestamp of the next event: `at`, which must not be before the last event's, or the clock's.
    private func timestamp(_ at: Timestamp?) throws -> Int64 {
        guard let at else { return clock.nextTimestamp(after: lastMicros) }
        guard at.micros >= lastMicros else {
            throw LedgerError.rejected(code: Rejection.Code.timeBeforeLast.rawValue,
                                       message: "at \(at.rfc3339) is before the previous event (\(Timestamp(micros: lastMicros).rfc3339))")
        }
        return at.micros
    }

    /// Adds the event encoded in `payload` to the batch (staging a full one first); its position.
    private mutating func record(type: UInt16, version: UInt16, micros: Int64, line: Int) throws -> UInt64 {
        if batch.count == Ledger.importBatchRecords {
            try LedgerError.translating { try staged.stage(batch) }
            batchLastLines.append(line - 1)
            batch.startNext()
        }
        let position = batch.nextPosition
        try LedgerError.translating {
            try payload.withBytes {
                try batch.append(timestampMicros: micros, type: type, schemaVersion: version, payload: $0)
            }
        }
        lastMicros = micros
        return position
    }

    /// The history record of the account at `i` after the event at `position` (its state now).
    private mutating func addHistory(_ i: Int, side: Int, before: Account?, position: UInt64) {
        addHistory(i, side: side, head: before?.lastPosition ?? 0, opened: before == nil, position: position)
    }

    private mutating func addHistory(_ i: Int, side: Int, head: UInt64, opened: Bool = false, position: UInt64) {
        guard let history else { return }
        let after = accounts.funds[i]
        guard after.status != 0 else { return }
        historyChanges.append(HistoryView.Change(position: position, slot: i, side: side, opened: opened,
                                                 closed: after.status == Account.Status.closed.rawValue,
                                                 balance: after.balance, version: after.version, head: head, nameHash: accounts.nameHash(i)))
        if historyChanges.count >= history.chunkItems { history.add(chunk: &historyChanges) }
    }

    /// Adds a key the ids view gains (an idempotency key, or a reversal's), `slotHash` its KeyTable.slotHash.
    private mutating func addKey(_ hash: UInt64, slotHash: UInt64, position: UInt64) throws {
        if keys.count >= keysInMemoryMax {
            let runs = spilledKeys
            try LedgerError.translating {
                try keys.drainSorted { sorted in
                    try sorted.withMemoryRebound(to: (key: UInt64, value: UInt64).self) { try runs.addRun(sorted: $0) }
                }
            }
            keysSpilled = true
        }
        keys.insert(hash, slotHash: slotHash, position: position)
        keysAdded += 1
    }

    /// The (at most two) accounts of the event a reversal undoes.
    private static func accounts(of original: EventBody) -> (AccountID?, AccountID?) {
        switch original {
        case .moneyTransferred(let f, let t, _): return (f, t)
        case .moneyDeposited(let a, _), .moneyWithdrawn(let a, _), .accountOpened(let a, _, _, _), .accountClosed(let a): return (a, nil)
        case .moneyReversed(_, let f, let t, _): return (f, t)
        }
    }

    /// The event at `position`: in the log, or built by this import and not yet written.
    private func event(at position: UInt64) throws -> Event? {
        if position <= startHead { return try writer.log.event(at: position)?.event }
        guard let r = try batch.record(at: position) ?? LedgerError.translating({ try staged.record(at: position) }) else { return nil }
        do { return try EventCodec.decode(type: r.type, version: r.schemaVersion, payload: r.payload) } catch let e as DomainError {
            throw Ledger.translate(e)
        }
    }

    /// False when no key with the request's id hash was seen, by this import or the store: most
    /// lines, at the cost of a probe in memory (no event is read, nothing is copied).
    private func mayBeRepeated(_ request: ImportRequest) -> Bool {
        keys.holds(request.idHash, slotHash: request.idSlotHash) || (keysSpilled && spilledKeys.mayHold(request.idHash)) || storeHoldsIDs
    }

    /// The event carrying idempotency key `key` (the request's id), stored or earlier in this
    /// import, if any (a hash match only says "maybe": the event says for sure).
    private func earlierEvent(withID key: String, request: ImportRequest) throws -> Event? {
        let hash = request.idHash
        var found: Event?
        func check(_ position: UInt64) throws {
            if found == nil, let e = try event(at: position), e.metadata.id == key { found = e }
        }
        try keys.positions(hash, slotHash: request.idSlotHash, check)
        if found == nil { try LedgerError.translating { try spilledKeys.forEachValue(of: hash, check) } }
        if found == nil { try views.positions(forIDHash: hash, check) }
        return found
    }

    /// An `open` (or `close`) line for an account already opened with the same fields (already
    /// closed) at the same `at` before this import: a line of an import being run again, skipped
    /// like an id duplicate (opens and closes rarely carry ids).
    private func isRepeatedOpen(_ command: Command, at: Timestamp?, current: Account?) throws -> Bool {
        guard let at, let existing = current else { return false }
        switch command {
        case .open(_, let currency, let scale, let overdraftText):
            guard existing.currency == currency, existing.scale == scale,
                  (try? overdraftText?.minorUnits(scale: scale) ?? 0) == existing.overdraft,
                  existing.openedPosition > 0, existing.openedPosition <= startHead else { return false }
            return try LedgerError.translating { try writer.log.timestamp(ofPosition: existing.openedPosition) } == at.micros
        case .close:
            guard existing.status == .closed, existing.lastPosition > 0, existing.lastPosition <= startHead else { return false }
            return try LedgerError.translating { try writer.log.timestamp(ofPosition: existing.lastPosition) } == at.micros
        default:
            return false
        }
    }

    // MARK: Writing

    /// How many keys the ids view gains: this import's idempotency keys and reversals.
    var newKeyCount: Int { keysAdded }

    /// Every key the ids view gains, in its own layout, when the in-memory table holds them all
    /// (none spilled).
    var laidOutKeys: KeyTable? { keysSpilled ? nil : keys }

    /// Each key the ids view gains, as (hash, position).
    func forEachNewKey(_ body: (UInt64, UInt64) throws -> Void) throws {
        try keys.forEach(body)
        try spilledKeys.forEach(body)
    }

    /// The position of the last event validated (the log's head when there is none).
    var validatedThrough: UInt64 { batch.firstPosition - 1 }

    mutating func finishValidation(lastLine: Int) throws {
        history?.add(chunk: &historyChanges)
        history?.end()
        guard !batch.isEmpty else { return }
        try LedgerError.translating { try staged.stage(batch) }
        batchLastLines.append(lastLine)
        batch.startNext()
    }

    /// Cuts the batches staged so far off the log (the import is rejected or failed).
    func discardStaged() { staged.discard() }

    /// Commits every staged batch durably, in order, acknowledging each.
    func appendAll(committed: (Int, UInt64) -> Void) throws {
        var n = 0
        try LedgerError.translating {
            try staged.commitAll { positions in
                committed(batchLastLines[n], positions.upperBound)
                n += 1
            }
        }
    }
}

extension LedgerError {
    /// Whether the error is about an import line itself (malformed, rejected), not the store or the disk.
    var concernsTheLine: Bool {
        switch self {
        case .usage, .rejected, .conflict: return true
        case .integrity, .io: return false
        }
    }

    /// The same error, its message prefixed with the line it came from.
    func onLine(_ line: Int) -> LedgerError {
        switch self {
        case .usage(let m): return .usage("line \(line): \(m)")
        case .rejected(let c, let m): return .rejected(code: c, message: "line \(line): \(m)")
        case .conflict(let c, let m): return .conflict(code: c, message: "line \(line): \(m)")
        case .integrity(let m): return .integrity("line \(line): \(m)")
        case .io: return self
        }
    }
}
