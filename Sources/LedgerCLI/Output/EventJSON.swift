// JSON and text forms of events, balances and append results: the shapes of docs/COMMANDS.md.

import LedgerDomain
import LedgerEngine

enum EventJSON {
    /// One `log` line: position, timestamp, type, then the event's own fields.
    static func fields(_ recorded: RecordedEvent, accounts: [AccountID: Account]) -> [(String, JSON)] {
        // One array per event, its fields appended in place (no temporary arrays: the feed
        // renders a million of these).
        var f: [(String, JSON)] = []
        f.reserveCapacity(12)
        f.append(("position", .uint(recorded.position)))
        f.append(("timestamp", .string(recorded.timestamp.rfc3339)))
        f.append(("type", .string(recorded.event.body.typeName)))
        func money(_ id: AccountID, _ units: Int64) {
            guard let a = accounts[id] else { return f.append(("amount_units", .int(units))) }
            f.append(("amount", .string(a.format(units))))
            f.append(("currency", .string(a.currency.code)))
        }
        switch recorded.event.body {
        case .accountOpened(let a, let c, let scale, let overdraft):
            f.append(("account", .string(a.name)))
            f.append(("currency", .string(c.code)))
            f.append(("scale", .int(Int64(scale))))
            f.append(("overdraft", .string(Money.format(overdraft, scale: scale))))
        case .accountClosed(let a):
            f.append(("account", .string(a.name)))
        case .moneyDeposited(let a, let amount), .moneyWithdrawn(let a, let amount):
            f.append(("account", .string(a.name)))
            money(a, amount)
        case .moneyTransferred(let from, let to, let amount):
            f.append(("from", .string(from.name)))
            f.append(("to", .string(to.name)))
            money(from, amount)
        case .moneyReversed(let reverses, let from, let to, let amount):
            f.append(("reverses", .uint(reverses)))
            if let from { f.append(("from", .string(from.name))) }
            if let to { f.append(("to", .string(to.name))) }
            if let side = from ?? to { money(side, amount) }
        }
        let m = recorded.event.metadata
        if let id = m.id { f.append(("id", .string(id))) }
        if let memo = m.memo { f.append(("memo", .string(memo))) }
        if let c = m.correlationID { f.append(("correlation_id", .string(c))) }
        if let c = m.causationID { f.append(("causation_id", .string(c))) }
        return f
    }

    /// An account as balance answers list it, rendered straight into `out` (no JSON value
    /// built: a 10k-account answer has no 10k objects to build and free):
    /// {"account", "balance", "currency", "version"}.
    static func renderAccount(_ a: Account, into out: inout OutputBytes) {
        out.reserve(12)
        out.literal(#"{"account":"#)
        out.jsonString(a.id.name)
        out.reserve(14 + Money.textBytesMax)
        out.literal(#","balance":""#)
        out.money(a.balance, scale: a.scale)
        out.literal(#"","currency":"#)
        out.jsonString(a.currency.code)
        out.reserve(32)
        out.literal(#","version":"#)
        out.digits(a.version)
        out.byte(UInt8(ascii: "}"))
    }

    /// The object printed after a successful (or duplicate) append.
    static func appendResult(_ r: AppendResult) -> JSON {
        let byID = Dictionary(r.accounts.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var f = fields(r.recorded, accounts: byID)
        switch r.recorded.event.body {
        case .moneyTransferred(let from, let to, _), .moneyReversed(_, let from?, let to?, _):
            if let a = byID[from], let b = byID[to] {
                f += [("from_balance", .string(a.format(a.balance))), ("to_balance", .string(b.format(b.balance))),
                      ("from_version", .uint(a.version)), ("to_version", .uint(b.version))]
            }
        default:
            if let a = r.accounts.first {
                f += [("balance", .string(a.format(a.balance))), ("version", .uint(a.version))]
                if case .accountClosed = r.recorded.event.body { f.append(("status", .string("closed"))) }
            }
        }
        f.append(("duplicate", .bool(r.duplicate)))
        return .object(f)
    }

    /// One human line for an append.
    static func appendText(_ r: AppendResult) -> String {
        let byID = Dictionary(r.accounts.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let e = r.recorded
        var line: String
        switch e.event.body {
        case .accountOpened(let a, let c, let scale, let overdraft):
            line = "opened \(a) (\(c), scale \(scale)\(overdraft > 0 ? ", overdraft \(Money.format(overdraft, scale: scale))" : ""))"
        case .accountClosed(let a):
            line = "closed \(a)"
        case .moneyDeposited(let a, let amount):
            let acc = byID[a]
            line = "deposited \(acc?.format(amount) ?? String(amount)) \(acc?.currency.code ?? "") into \(a): balance \(acc.map { $0.format($0.balance) } ?? "?")"
        case .moneyWithdrawn(let a, let amount):
            let acc = byID[a]
            line = "withdrew \(acc?.format(amount) ?? String(amount)) \(acc?.currency.code ?? "") from \(a): balance \(acc.map { $0.format($0.balance) } ?? "?")"
        case .moneyTransferred(let from, let to, let amount):
            let f = byID[from], t = byID[to]
            line = "transferred \(f?.format(amount) ?? String(amount)) \(f?.currency.code ?? "") from \(from) (balance \(f.map { $0.format($0.balance) } ?? "?")) to \(to) (balance \(t.map { $0.format($0.balance) } ?? "?"))"
        case .moneyReversed(let reverses, let from, let to, let amount):
            let sides = [from, to].compactMap { $0 }.compactMap { byID[$0] }
            let unit = sides.first
            line = "reversed position \(reverses): \(unit?.format(amount) ?? String(amount)) \(unit?.currency.code ?? "")"
                + (from.map { " out of \($0) (balance \(byID[$0].map { $0.format($0.balance) } ?? "?"))" } ?? "")
                + (to.map { " into \($0) (balance \(byID[$0].map { $0.format($0.balance) } ?? "?"))" } ?? "")
        }
        line += "  [position \(e.position), \(e.timestamp.rfc3339)]"
        if r.duplicate { line += " (duplicate: already recorded)" }
        return line
    }
}
