// `ledger import`: many operations under one writer lock. Every line is validated
// against the state including the lines before it, and the batches are built
// before the first is written, so by default a bad line appends nothing. Then the
// batches are appended one by one (one fdatasync each: group commit) and each
// durable batch is acknowledged to the caller.

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

    /// Imports `input`. `committed(line, position)` is called after each durable batch;
    /// with `continueOnError`, `rejected(line, error)` is called for each bad line and the rest go on.
    public func importOperations(_ input: [UInt8], format: ImportFormat, continueOnError: Bool,
                                 committed: (Int, UInt64) -> Void, rejected: (Int, LedgerError) -> Void) throws -> ImportSummary {
        try withWriter { writer, config in
            var notes: [String] = []
            let views = try Views.openForWriting(layout, log: writer.log, notes: &notes)
            addNotes(notes)
            var summary = ImportSummary()
            var overlay: [AccountID: Account] = [:]
            var importIDs: [String: Event] = [:]
            var batches: [(Batch, Int)] = []
            var batch = writer.makeBatch()
            var lastMicros = writer.head.position == 0 ? Int64.min : writer.head.timestampMicros
            var header: [String]?
            var lineNumber = 0
            // Ids already in the store, as hashes: a line's id costs a lookup only on a hit.
            let storedIDs = try views.idHashes()
            // Reversals may undo events of this same import: keep those while deciding.
            let hasReversals = input.withUnsafeBytes { raw in Self.contains(raw, Array("\"reverse\"".utf8)) || Self.contains(raw, Array("reverse,".utf8)) }
            var decided: [UInt64: Event] = [:]
            var reversedHere = Set<UInt64>()

            try forEachLine(input) { bytes in
                lineNumber += 1
                if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return }
                if format == .csv && header == nil {
                    header = try csvHeader(bytes, line: lineNumber)
                    return
                }
                summary.lines += 1
                do {
                    let line = try parse(bytes, format: format, header: header)
                    let (command, options, at) = try request(from: line, config: config)
                    var original: Event?
                    if case .reverse(let p) = command {
                        if let e = decided[p] {
                            original = e
                        } else if p >= 1, p <= writer.head.position {
                            original = try writer.log.event(at: p)?.event
                        }
                        guard original != nil else { throw LedgerError.usage("no event at position \(p)") }
                    }
                    var current: [AccountID: Account] = [:]
                    for id in original?.body.accounts ?? command.accounts {
                        if let a = try overlay[id] ?? views.account(id) { current[id] = a }
                    }
                    if let key = options.metadata.id {
                        var earlier = importIDs[key]
                        if earlier == nil && storedIDs.contains(Views.idHash(key)) {
                            earlier = try findEvent(withID: key, views: views, log: writer.log)?.event
                        }
                        if let earlier {
                            guard Decide.sameRequest(command, options, recorded: earlier, accounts: current) else {
                                throw LedgerError.rejected(code: Rejection.Code.idConflict.rawValue,
                                                           message: "id '\(key)' was already used for a different request")
                            }
                            summary.duplicates += 1
                            return
                        }
                    }
                    if try isRepeatedOpen(command, at: at, current: current, log: writer.log) {
                        summary.duplicates += 1
                        return
                    }
                    let event: Event
                    do {
                        if case .reverse(let p) = command, let original {
                            let reversed = try reversedHere.contains(p) || (p <= writer.head.position && isReversed(p, views: views, log: writer.log))
                            event = try Decide.reverse(original, at: p, alreadyReversed: reversed, options: options, accounts: current)
                            reversedHere.insert(p)
                        } else {
                            event = try Decide.decide(command, options: options, accounts: current)
                        }
                    } catch let e as DomainError { throw Ledger.translate(e) }
                    let micros: Int64
                    if let at {
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
                        batches.append((batch, lineNumber - 1))
                        batch = next
                    }
                    let position = batch.nextPosition
                    let encoded = EventCodec.encode(event)
                    try LedgerError.translating {
                        try batch.append(timestampMicros: micros, type: encoded.type, schemaVersion: encoded.version, payload: encoded.payload)
                    }
                    lastMicros = micros
                    for id in event.body.accounts {
                        overlay[id] = current[id].map { $0.applying(event.body, at: position) } ?? Account.opened(event.body, at: position)
                    }
                    if let key = options.metadata.id { importIDs[key] = event }
                    if hasReversals { decided[position] = event }
                    summary.imported += 1
                } catch let error as LedgerError {
                    guard continueOnError else { throw error.onLine(lineNumber) }
                    summary.rejected += 1
                    rejected(lineNumber, error)
                }
            }
            if !batch.isEmpty { batches.append((batch, lineNumber)) }

            // Everything validated: append, one durable batch at a time.
            var appended: UInt64 = 0
            for (b, lastLine) in batches {
                let range = try writer.append(b)
                appended += UInt64(b.count)
                committed(lastLine, range.upperBound)
            }
            summary.position = writer.head.position
            guard appended > 0 else { return summary }
            // Views follow: small imports apply event by event; large ones refold the log once.
            let first = writer.head.position - appended + 1
            if appended > UInt64(Ledger.importBatchRecords) {
                _ = try Views.rebuild(layout, log: writer.log)
            } else {
                try writer.log.forEachEvent(from: first) { try views.apply($0); return true }
                try views.checkpoint(through: writer.head.position)
            }
            if Snapshots.due(first: first, last: writer.head.position, every: config.snapshotEvery) {
                let current = try Views.openForWriting(layout, log: writer.log, notes: &notes)
                try Snapshots.write(layout, accounts: current.allAccounts(), head: writer.head)
                try Snapshots.prune(layout, every: config.snapshotEvery)
            }
            return summary
        }
    }

    /// An `open` (or `close`) line for an account already opened with the same fields (already
    /// closed) at the same `at`: a line of an import being run again, skipped like an id duplicate
    /// (opens and closes rarely carry ids). A closed account has no later event than its close.
    private func isRepeatedOpen(_ command: Command, at: Timestamp?, current: [AccountID: Account], log: Log) throws -> Bool {
        guard let at else { return false }
        switch command {
        case .open(let id, let currency, let scale, let overdraftText):
            guard let existing = current[id], existing.currency == currency, existing.scale == scale,
                  (try? overdraftText?.minorUnits(scale: scale) ?? 0) == existing.overdraft, existing.openedPosition > 0 else { return false }
            return try LedgerError.translating { try log.timestamp(ofPosition: existing.openedPosition) } == at.micros
        case .close(let id):
            guard let existing = current[id], existing.status == .closed, existing.lastPosition > 0 else { return false }
            return try LedgerError.translating { try log.timestamp(ofPosition: existing.lastPosition) } == at.micros
        default:
            return false
        }
    }

    static func contains(_ haystack: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        var i = 0
        while i + needle.count <= haystack.count {
            if haystack[i] == needle[0], needle.indices.allSatisfy({ haystack[i + $0] == needle[$0] }) { return true }
            i += 1
        }
        return false
    }

    private func forEachLine(_ input: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try input.withUnsafeBytes { raw in
            var start = 0
            while start < raw.count {
                var end = start
                while end < raw.count && raw[end] != 0x0A { end += 1 }
                try body(UnsafeRawBufferPointer(rebasing: raw[start..<end]))
                start = end + 1
            }
        }
    }

    private func csvHeader(_ bytes: UnsafeRawBufferPointer, line: Int) throws -> [String] {
        do {
            let names = try CSVLine.fields(bytes).map { $0.trimmingSpaces() }
            for n in names where !ImportLine.fields.contains(n) {
                throw LedgerError.usage("line \(line): unknown CSV column '\(n)' (known: \(ImportLine.fields.joined(separator: ", ")))")
            }
            guard Set(names).count == names.count else { throw LedgerError.usage("line \(line): duplicate CSV column") }
            guard names.contains("op") else { throw LedgerError.usage("line \(line): the CSV header has no 'op' column") }
            return names
        } catch let e as ImportFormatError { throw LedgerError.usage("line \(line): \(e.message)") }
    }

    private func parse(_ bytes: UnsafeRawBufferPointer, format: ImportFormat, header: [String]?) throws -> ImportLine {
        do {
            switch format {
            case .ndjson:
                return try NDJSONLine.parse(bytes)
            case .csv:
                let values = try CSVLine.fields(bytes.last == 0x0D ? UnsafeRawBufferPointer(rebasing: bytes.dropLast()) : bytes)
                guard let header, values.count == header.count else {
                    throw LedgerError.usage("expected \(header?.count ?? 0) CSV fields, found \(values.count)")
                }
                var line = ImportLine()
                for (name, value) in zip(header, values) where !value.isEmpty { _ = line.set(name, value) }
                return line
            }
        } catch let e as ImportFormatError { throw LedgerError.usage(e.message) }
    }

    /// The command a line asks for; usage errors name the field.
    private func request(from line: ImportLine, config: StoreConfig) throws -> (Command, CommandOptions, Timestamp?) {
        func need(_ value: String?, _ field: String, _ op: String) throws -> String {
            guard let value, !value.isEmpty else { throw LedgerError.usage("\(op) needs '\(field)'") }
            return value
        }
        func account(_ text: String) throws -> AccountID {
            do { return try AccountID(validating: text) } catch let e as DomainError { throw LedgerError.usage(e.description) }
        }
        func amount(_ text: String) throws -> DecimalText {
            do {
                let d = try DecimalText.parse(text)
                guard d.units > 0 else { throw LedgerError.usage("bad amount '\(text)': must be greater than zero") }
                return d
            } catch DecimalText.ParseError.invalid(let m) { throw LedgerError.usage(m) }
        }
        func forbid(_ fields: [(String, String?)], _ op: String) throws {
            for (name, value) in fields where value != nil { throw LedgerError.usage("field '\(name)' does not apply to \(op)") }
        }
        let op = try need(line.op, "op", "a line")
        var options = CommandOptions()
        for (name, value) in [("id", line.id), ("memo", line.memo)] {
            if let value, value.isEmpty || value.utf8.count > EventMetadata.textBytesMax
                || value.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\t" }) {
                throw LedgerError.usage("'\(name)' must be 1-\(EventMetadata.textBytesMax) bytes without control characters")
            }
        }
        options.metadata.id = line.id
        options.metadata.memo = line.memo
        let at: Timestamp?
        do { at = try line.at.map { try Timestamp.parse($0, dateIsEndOfDay: false) } } catch Timestamp.ParseError.invalid(let m) {
            throw LedgerError.usage("at: \(m)")
        }
        let command: Command
        switch op {
        case "open":
            try forbid([("from", line.from), ("to", line.to), ("amount", line.amount), ("position", line.position)], op)
            let currency: Currency
            do { currency = try Currency(validating: line.currency ?? config.defaultCurrency) } catch let e as DomainError { throw LedgerError.usage(e.description) }
            guard let scale = Int(line.scale ?? String(config.defaultScale)), (0...Decide.scaleMax).contains(scale) else {
                throw LedgerError.usage("scale must be an integer 0...\(Decide.scaleMax)")
            }
            let overdraft: DecimalText?
            do { overdraft = try line.overdraft.map(DecimalText.parse) } catch DecimalText.ParseError.invalid(let m) { throw LedgerError.usage("overdraft: \(m)") }
            command = .open(account: try account(need(line.account, "account", op)), currency: currency, scale: scale, overdraft: overdraft)
        case "close":
            try forbid([("from", line.from), ("to", line.to), ("amount", line.amount), ("currency", line.currency), ("scale", line.scale),
                        ("overdraft", line.overdraft), ("position", line.position)], op)
            command = .close(account: try account(need(line.account, "account", op)))
        case "deposit", "withdraw":
            try forbid([("from", line.from), ("to", line.to), ("currency", line.currency), ("scale", line.scale), ("overdraft", line.overdraft),
                        ("position", line.position)], op)
            let a = try account(need(line.account, "account", op)), m = try amount(need(line.amount, "amount", op))
            command = op == "deposit" ? .deposit(account: a, amount: m) : .withdraw(account: a, amount: m)
        case "transfer":
            try forbid([("account", line.account), ("currency", line.currency), ("scale", line.scale), ("overdraft", line.overdraft),
                        ("position", line.position)], op)
            let from = try account(need(line.from, "from", op)), to = try account(need(line.to, "to", op))
            guard from != to else { throw LedgerError.usage("from and to must be different accounts") }
            command = .transfer(from: from, to: to, amount: try amount(need(line.amount, "amount", op)))
        case "reverse":
            try forbid([("account", line.account), ("from", line.from), ("to", line.to), ("amount", line.amount), ("currency", line.currency),
                        ("scale", line.scale), ("overdraft", line.overdraft)], op)
            guard let p = UInt64(try need(line.position, "position", op)), p >= 1 else { throw LedgerError.usage("position must be a positive integer") }
            command = .reverse(position: p)
        default:
            throw LedgerError.usage("unknown op '\(op)' (open, close, deposit, withdraw, transfer, reverse)")
        }
        return (command, options, at)
    }
}

extension LedgerError {
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
