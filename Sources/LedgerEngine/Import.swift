// `ledger import`: many operations under one writer lock. Every line is validated
// against the state including the lines before it, and every batch is built before
// the first is written (held in a BatchSpool: bounded memory, the rest in an unlinked
// file), so by default a bad line appends nothing. Then the batches are appended one
// by one (one fdatasync each: group commit) and each durable batch is acknowledged.
//
// Memory: the input is read in chunks; the state is one entry per account touched; the
// store's idempotency keys are looked up in the ids view on disk, this import's own cost
// 16 bytes each (IDHashSet); no Event or String is kept per line.

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
    /// Frames of validated batches kept in memory before they go to the spool file.
    static let importSpoolMemoryBytes = 16 << 20

    /// Imports the operations `read` yields (a chunk reader: bytes read, 0 at the end).
    /// `committed(line, position)` is called after each durable batch; with `continueOnError`,
    /// `rejected(line, error)` is called for each bad line and the rest go on.
    public func importOperations(reading read: @escaping (UnsafeMutableRawBufferPointer) throws -> Int, format: ImportFormat,
                                 continueOnError: Bool, committed: (Int, UInt64) -> Void,
                                 rejected: (Int, LedgerError) -> Void) throws -> ImportSummary {
        try withWriter { writer, config in
            var notes: [String] = []
            let views = try Views.openForWriting(layout, log: writer.log, notes: &notes)
            addNotes(notes)
            var run = try ImportRun(writer: writer, views: views, config: config, clock: clock, ledger: self)
            let lines = LineReader(read)
            let parser = ImportParser(lines: lines, format: format, config: config)
            parser.start()
            defer { parser.stop() }
            // History records are written as lines are accepted (after the head, where no reader looks);
            // if the import stops, they are cut off again.
            let startHead = writer.head.position
            do {
                while let chunk = try parser.next() {
                    for parsed in chunk {
                        run.summary.lines += 1
                        do {
                            try run.apply(try parsed.request.get(), line: parsed.number)
                        } catch let error as LedgerError {
                            // A bad line may be skipped; a failing disk or damaged store stops the import.
                            guard continueOnError, error.concernsTheLine else { throw error.onLine(parsed.number) }
                            run.summary.rejected += 1
                            rejected(parsed.number, error)
                        }
                    }
                }
                try run.finishValidation(lastLine: lines.lineNumber)
            } catch {
                run.history?.cancel()
                try? views.history?.table.truncate(after: startHead)
                throw error
            }

            // Everything validated: append, one durable batch at a time, while the ids view
            // with this import's keys is built on the other core.
            let first = writer.head.position + 1
            defer { run.history?.cancel() }
            let finished = run
            let keys = Background { try views.prepareImportKeys(keyCount: finished.newKeyCount, forEachKey: finished.forEachNewKey) }
            defer { _ = try? keys.join() }
            try run.appendAll(committed: committed)
            var summary = run.summary
            summary.position = writer.head.position
            // The history view is derived: a failing build does not fail the import; the view is
            // dropped and the next writer rebuilds it.
            do { try Views.translating { try run.history?.result() } } catch {
                addNotes(["history view: \(error); it is rebuilt by the next command"])
                try? FileSystem.remove(Views.historyPath(layout))
            }
            guard writer.head.position >= first else { return summary }
            try views.finishImport(accounts: run.changedAccounts, prepared: try keys.join(), forEachKey: run.forEachNewKey,
                                   through: writer.head.position)
            if Snapshots.due(first: first, last: writer.head.position, every: config.snapshotEvery) {
                try Snapshots.write(layout, accounts: try views.allAccounts(), head: writer.head)
                try Snapshots.prune(layout, every: config.snapshotEvery)
            }
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

    /// Accounts touched so far, by name → index into `states` (nil: known not to exist).
    private var index: [AccountID: Int] = [:]
    private var states: [Account?] = []
    /// HistoryView.nameHash of each of them (the history builder's key).
    private var nameHashes: [UInt32] = []
    /// This import's idempotency keys (the store's are in the ids view).
    private var ids = IDHashSet(minimumCapacity: 1024)
    /// Positions reversed by this import → the position of their reversal (a second one is rejected).
    private var reversedHere: [UInt64: UInt64] = [:]
    private var idsAdded = 0
    private var spool: BatchSpool
    private var batch: Batch
    private var batchLastLines: [Int] = []
    private var lastMicros: Int64
    private var payload = ByteWriter()
    /// Builds the history records on their own thread.
    let history: ChunkedWorker<HistoryView.Change, Void>?

    init(writer: LogWriter, views: Views, config: StoreConfig, clock: Clock, ledger: Ledger) throws {
        self.writer = writer
        self.views = views
        self.clock = clock
        self.ledger = ledger
        startHead = writer.head.position
        spool = BatchSpool(directory: writer.log.directory, memoryBytesMax: Ledger.importSpoolMemoryBytes)
        batch = writer.makeBatch()
        lastMicros = writer.head.position == 0 ? Int64.min : writer.head.timestampMicros
        history = views.history.map { HistoryBuilderThread.start(view: $0) }
    }

    // MARK: Accounts

    /// The slot of account `id`, loaded from the views on first use.
    private mutating func slot(_ id: AccountID) throws -> Int {
        if let i = index[id] { return i }
        states.append(try views.account(id))
        nameHashes.append(HistoryView.nameHash(id.name))
        index[id] = states.count - 1
        return states.count - 1
    }

    /// Accounts that changed, in their final state.
    var changedAccounts: [Account] {
        states.compactMap { $0 }.filter { $0.lastPosition > startHead }
    }

    // MARK: One line

    mutating func apply(_ request: ImportRequest, line: Int) throws {
        let command = request.command, options = request.options
        // A reversal works on the accounts of the event it undoes (stored, or earlier in this import).
        var original: Event?
        if case .reverse(let p) = command {
            original = p >= 1 ? try event(at: p) : nil
            guard original != nil else { throw LedgerError.usage("no event at position \(p)") }
        }
        let (first, second) = Self.accounts(of: original?.body, command)
        var i: Int?, j: Int?
        if let first { i = try slot(first) }
        if let second { j = try slot(second) }
        let a = i.flatMap { states[$0] }, b = j.flatMap { states[$0] }
        let lookup: (AccountID) -> Account? = { id in id == first ? a : id == second ? b : nil }

        let idHash = options.metadata.id.map(Views.idHash)
        if let key = options.metadata.id, let hash = idHash {
            if let earlier = try earlierEvent(withID: key, hash: hash) {
                guard Decide.sameRequest(command, options, recorded: earlier, accounts: lookup) else {
                    throw LedgerError.rejected(code: Rejection.Code.idConflict.rawValue,
                                               message: "id '\(key)' was already used for a different request")
                }
                summary.duplicates += 1
                return
            }
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

        let micros: Int64
        if let at = request.at {
            guard at.micros >= lastMicros else {
                throw LedgerError.rejected(code: Rejection.Code.timeBeforeLast.rawValue,
                                           message: "at \(at.rfc3339) is before the previous event (\(Timestamp(micros: lastMicros).rfc3339))")
            }
            micros = at.micros
        } else {
            micros = clock.nextTimestamp(after: lastMicros)
        }
        if batch.count == Ledger.importBatchRecords {
            let next = writer.makeBatch(following: batch)
            try LedgerError.translating { try spool.add(batch) }
            batchLastLines.append(line - 1)
            batch = next
        }
        let position = batch.nextPosition
        payload.reset()
        let (type, version) = EventCodec.encode(event, into: &payload)
        try LedgerError.translating {
            try payload.bytes.withUnsafeBytes {
                try batch.append(timestampMicros: micros, type: type, schemaVersion: version, payload: $0)
            }
        }
        lastMicros = micros
        if let i { states[i] = a.map { $0.applying(event.body, at: position) } ?? Account.opened(event.body, at: position) }
        if let j { states[j] = b.map { $0.applying(event.body, at: position) } ?? Account.opened(event.body, at: position) }
        if let history {
            func addHistory(_ slot: Int?, _ id: AccountID?, _ before: Account?) {
                guard let slot, let id, let after = states[slot] else { return }
                history.add(HistoryView.Change(position: position, slot: slot, side: HistoryView.side(of: id, in: event.body),
                                               opened: before == nil, closed: after.status == .closed, balance: after.balance,
                                               version: after.version, head: before?.lastPosition ?? 0, nameHash: nameHashes[slot]))
            }
            addHistory(i, first, a)
            addHistory(j, second, b)
        }
        if let idHash {
            ids.insert(idHash, position: position)
            idsAdded += 1
        }
        if case .reverse(let p) = command { reversedHere[p] = position }
        summary.imported += 1
    }

    /// The (at most two) accounts Decide needs: those of the command, or of the event a reversal undoes.
    private static func accounts(of original: EventBody?, _ command: Command) -> (AccountID?, AccountID?) {
        if let original {
            switch original {
            case .moneyTransferred(let f, let t, _): return (f, t)
            case .moneyDeposited(let a, _), .moneyWithdrawn(let a, _), .accountOpened(let a, _, _, _), .accountClosed(let a): return (a, nil)
            case .moneyReversed(_, let f, let t, _): return (f, t)
            }
        }
        switch command {
        case .open(let a, _, _, _), .close(let a), .deposit(let a, _), .withdraw(let a, _): return (a, nil)
        case .transfer(let f, let t, _): return (f, t)
        case .reverse: return (nil, nil)
        }
    }

    /// The event at `position`: in the log, or built by this import and not yet written.
    private func event(at position: UInt64) throws -> Event? {
        if position <= startHead { return try writer.log.event(at: position)?.event }
        guard let r = try batch.record(at: position) ?? LedgerError.translating({ try spool.record(at: position) }) else { return nil }
        do { return try EventCodec.decode(type: r.type, version: r.schemaVersion, payload: r.payload) } catch let e as DomainError {
            throw Ledger.translate(e)
        }
    }

    /// The event carrying idempotency key `key`, stored or earlier in this import, if any
    /// (a hash match only says "maybe": the event says for sure).
    private func earlierEvent(withID key: String, hash: UInt64) throws -> Event? {
        var found: Event?
        func check(_ position: UInt64) throws {
            if found == nil, let e = try event(at: position), e.metadata.id == key { found = e }
        }
        try ids.positions(hash, check)
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
    var newKeyCount: Int { idsAdded + reversedHere.count }

    /// Each key the ids view gains, as (hash, position).
    func forEachNewKey(_ body: (UInt64, UInt64) throws -> Void) throws {
        try ids.forEach(after: startHead, body)
        for (reversed, position) in reversedHere { try body(Views.idHash(Views.reversalKey(reversed)), position) }
    }

    mutating func finishValidation(lastLine: Int) throws {
        history?.end()
        guard !batch.isEmpty else { return }
        try LedgerError.translating { try spool.add(batch) }
        batchLastLines.append(lastLine)
        batch = writer.makeBatch(following: batch)
    }

    /// Appends every spooled batch durably, acknowledging each.
    func appendAll(committed: (Int, UInt64) -> Void) throws {
        var n = 0
        try LedgerError.translating {
            try spool.drain { b in
                let range = try writer.append(b)
                committed(batchLastLines[n], range.upperBound)
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
