// The three shapes `ledger export` prints: an import line as NDJSON or CSV, and an event
// as a plain-text double-entry transaction that hledger and ledger-cli read.

import LedgerDomain
import LedgerEngine

enum ExportFormat: String { case ndjson, csv, journal }

enum ExportRender {
    static let journalPreamble = [
        "; ledger export --format journal: one transaction per event; accounts are assets:NAME,",
        "; money from outside is equity:deposits, money leaving is equity:withdrawals.",
    ]

    static func ndjson(_ line: ImportLine) -> String {
        JSON.object(ImportLine.fieldPaths.compactMap { field in
            line[keyPath: field.path].map { value in
                // scale and position are integers; every other field, amounts included, is a string.
                (field.name, (field.name == "scale" || field.name == "position") ? Int64(value).map(JSON.int) ?? .string(value) : .string(value))
            }
        }).rendered()
    }

    static let csvHeader = ImportLine.fields.joined(separator: ",")

    static func csv(_ line: ImportLine) -> String {
        ImportLine.fieldPaths.map { csvField(line[keyPath: $0.path]) }.joined(separator: ",")
    }

    static func csvField(_ v: String?) -> String {
        guard let v else { return "" }
        guard v.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return v }
        return "\"" + v.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
    }

    /// One transaction; opens and closes carry no money and are comments.
    static func journal(_ r: RecordedEvent, accounts: [AccountID: Account]) -> String {
        let date = String(r.timestamp.rfc3339.prefix(10))
        func amount(_ id: AccountID, _ units: Int64) -> String {
            guard let a = accounts[id] else { return String(units) }
            return "\(a.format(units)) \(a.currency.code)"
        }
        func oneLine(_ s: String) -> String { String(s.map { $0 == "\n" || $0 == "\r" ? " " : $0 }) }
        let description = oneLine(r.event.metadata.memo ?? r.event.body.typeName)
        let head = "\(date) \(description)  ; position:\(r.position), time:\(r.timestamp.rfc3339)\(r.event.metadata.id.map { ", id:\(oneLine($0))" } ?? "")"
        func transaction(credit: String, debit: String, _ side: AccountID, _ units: Int64) -> String {
            "\(head)\n    \(credit)  \(amount(side, units))\n    \(debit)  -\(amount(side, units))\n"
        }
        switch r.event.body {
        case .accountOpened(let a, let c, _, _):
            return "; \(date) opened assets:\(a.name) (\(c.code))"
        case .accountClosed(let a):
            return "; \(date) closed assets:\(a.name)"
        case .moneyDeposited(let a, let units):
            return transaction(credit: "assets:\(a.name)", debit: "equity:deposits", a, units)
        case .moneyWithdrawn(let a, let units):
            return transaction(credit: "equity:withdrawals", debit: "assets:\(a.name)", a, units)
        case .moneyTransferred(let from, let to, let units):
            return transaction(credit: "assets:\(to.name)", debit: "assets:\(from.name)", from, units)
        case .moneyReversed(_, let from, let to, let units):
            // Undoing a deposit takes money back out to equity:deposits; undoing a withdrawal brings it in from equity:withdrawals.
            guard let side = from ?? to else { return "; \(date) reversal without accounts at position \(r.position)" }
            return transaction(credit: to.map { "assets:\($0.name)" } ?? "equity:deposits",
                               debit: from.map { "assets:\($0.name)" } ?? "equity:withdrawals", side, units)
        }
    }
}
