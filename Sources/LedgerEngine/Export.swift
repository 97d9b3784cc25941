// `ledger export`: the history written out. ndjson and csv use the import format,
// so export → import into an empty store gives the same events, timestamps,
// balances and as-of answers; journal is plain-text double entry for hledger/ledger-cli.

import LedgerDomain
import LedgerStorage

public enum ExportFormat: String, Sendable { case ndjson, csv, journal }

extension Ledger {
    /// Visits one output line per event (plus a header for csv) in log order.
    public func export(_ format: ExportFormat, _ emit: (String) -> Void) throws {
        if format == .csv { emit(ImportLine.fields.joined(separator: ",")) }
        if format == .journal {
            emit("; ledger export --format journal: one transaction per event; accounts are assets:NAME,")
            emit("; money from outside is equity:deposits, money leaving is equity:withdrawals.")
        }
        _ = try events(from: 1) { recorded, accounts in
            let line = Self.importLine(recorded, accounts: accounts)
            switch format {
            case .ndjson: emit(Self.ndjson(line))
            case .csv: emit(ImportLine.fields.map { Self.csvField(line.value(of: $0)) }.joined(separator: ","))
            case .journal: if let t = Self.journal(recorded, accounts: accounts) { emit(t) }
            }
            return true
        }
    }

    static func importLine(_ r: RecordedEvent, accounts: [AccountID: Account]) -> ImportLine {
        var l = ImportLine()
        func money(_ id: AccountID, _ units: Int64) -> String {
            accounts[id].map { $0.format(units) } ?? String(units)
        }
        switch r.event.body {
        case .accountOpened(let a, let c, let scale, let overdraft):
            l.op = "open"; l.account = a.name; l.currency = c.code; l.scale = String(scale)
            if overdraft != 0 { l.overdraft = Money.format(overdraft, scale: scale) }
        case .accountClosed(let a):
            l.op = "close"; l.account = a.name
        case .moneyDeposited(let a, let units):
            l.op = "deposit"; l.account = a.name; l.amount = money(a, units)
        case .moneyWithdrawn(let a, let units):
            l.op = "withdraw"; l.account = a.name; l.amount = money(a, units)
        case .moneyTransferred(let from, let to, let units):
            l.op = "transfer"; l.from = from.name; l.to = to.name; l.amount = money(from, units)
        case .moneyReversed(let reverses, _, _, _):
            l.op = "reverse"; l.position = String(reverses)
        }
        l.at = r.timestamp.rfc3339
        l.id = r.event.metadata.id
        l.memo = r.event.metadata.memo
        return l
    }

    static func ndjson(_ l: ImportLine) -> String {
        var parts: [String] = []
        for field in ImportLine.fields {
            guard let v = l.value(of: field) else { continue }
            var escaped = ""
            jsonEscape(v, into: &escaped)
            parts.append("\"\(field)\":" + (field == "scale" ? v : escaped))
        }
        return "{" + parts.joined(separator: ",") + "}"
    }

    static func jsonEscape(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }

    static func csvField(_ v: String?) -> String {
        guard let v else { return "" }
        if v.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            return "\"" + v.replacingQuotes() + "\""
        }
        return v
    }

    /// One hledger/ledger-cli transaction. Account openings and closings carry no money: comments.
    static func journal(_ r: RecordedEvent, accounts: [AccountID: Account]) -> String? {
        let date = String(r.timestamp.rfc3339.prefix(10))
        func amount(_ id: AccountID, _ units: Int64) -> String {
            guard let a = accounts[id] else { return String(units) }
            return "\(a.format(units)) \(a.currency.code)"
        }
        var description = r.event.metadata.memo ?? r.event.body.typeName
        description = description.replacingNewlines()
        let head = "\(date) \(description)  ; position:\(r.position), time:\(r.timestamp.rfc3339)\(r.event.metadata.id.map { ", id:\($0.replacingNewlines())" } ?? "")"
        switch r.event.body {
        case .accountOpened(let a, let c, _, _):
            return "; \(date) opened assets:\(a.name) (\(c.code))"
        case .accountClosed(let a):
            return "; \(date) closed assets:\(a.name)"
        case .moneyDeposited(let a, let units):
            return "\(head)\n    assets:\(a.name)  \(amount(a, units))\n    equity:deposits  -\(amount(a, units))\n"
        case .moneyWithdrawn(let a, let units):
            return "\(head)\n    assets:\(a.name)  -\(amount(a, units))\n    equity:withdrawals  \(amount(a, units))\n"
        case .moneyTransferred(let from, let to, let units):
            return "\(head)\n    assets:\(to.name)  \(amount(from, units))\n    assets:\(from.name)  -\(amount(from, units))\n"
        case .moneyReversed(_, let from, let to, let units):
            guard let side = from ?? to else { return nil }
            let debit = from.map { "assets:\($0.name)" } ?? "equity:withdrawals"
            let credit = to.map { "assets:\($0.name)" } ?? "equity:deposits"
            return "\(head)\n    \(credit)  \(amount(side, units))\n    \(debit)  -\(amount(side, units))\n"
        }
    }
}

extension ImportLine {
    func value(of field: String) -> String? {
        switch field {
        case "op": return op
        case "account": return account
        case "from": return from
        case "to": return to
        case "amount": return amount
        case "at": return at
        case "id": return id
        case "memo": return memo
        case "currency": return currency
        case "scale": return scale
        case "overdraft": return overdraft
        case "position": return position
        default: return nil
        }
    }
}

extension String {
    func replacingQuotes() -> String {
        var out = ""
        for c in self { if c == "\"" { out += "\"\"" } else { out.append(c) } }
        return out
    }

    func replacingNewlines() -> String {
        String(map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }
}
