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

    /// An import line as one NDJSON object, its fields in file order; scale and position are
    /// integers, every other field (amounts included) a string.
    static func ndjson(_ line: ImportLine, into out: inout OutputBytes) {
        out.reserve(1)
        out.byte(UInt8(ascii: "{"))
        var first = true
        for k in ImportLine.fields.indices {
            guard let value = line[field: k] else { continue }
            out.reserve(24)
            if !first { out.byte(UInt8(ascii: ",")) }
            first = false
            out.jsonString(ImportLine.fields[k])
            out.byte(UInt8(ascii: ":"))
            if k == 9 || k == 11, let number = Int64(value) {
                out.reserve(21)
                if number < 0 { out.byte(UInt8(ascii: "-")) }
                out.digits(number.magnitude)
            } else {
                out.jsonString(value)
            }
        }
        out.reserve(1)
        out.byte(UInt8(ascii: "}"))
    }

    static func ndjson(_ line: ImportLine) -> String {
        String(decoding: OutputBytes.build(capacity: 256) { ndjson(line, into: &$0) }, as: UTF8.self)
    }

    static let csvHeader = ImportLine.fields.joined(separator: ",")

    /// An import line as one CSV row, fields in file order (an unset one is empty).
    static func csv(_ line: ImportLine, into out: inout OutputBytes) {
        for k in ImportLine.fields.indices {
            if k > 0 { out.reserve(1); out.byte(UInt8(ascii: ",")) }
            if let value = line[field: k] { csvField(value, into: &out) }
        }
    }

    static func csv(_ line: ImportLine) -> String {
        String(decoding: OutputBytes.build(capacity: 256) { csv(line, into: &$0) }, as: UTF8.self)
    }

    /// A field as is, or quoted (quotes doubled) when it holds a comma, quote, CR or LF byte.
    /// Judged by bytes: by Characters, a quote followed by a combining mark is one Character
    /// that is not a quote, and went out unquoted.
    static func csvField(_ value: String, into out: inout OutputBytes) {
        var text = value
        text.withUTF8 { bytes in
            let special = bytes.contains { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 0x0A || $0 == 0x0D }
            guard special else {
                out.reserve(bytes.count)
                out.bytes(bytes)
                return
            }
            out.reserve(2 * bytes.count + 2)
            out.byte(UInt8(ascii: "\""))
            for b in bytes {
                if b == UInt8(ascii: "\"") { out.byte(b) }
                out.byte(b)
            }
            out.byte(UInt8(ascii: "\""))
        }
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
