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

    /// Which of ImportLine.fields are JSON integers (scale and position); every other field,
    /// amounts included, is a string.
    private static let integerFields = ImportLine.fields.map { $0 == "scale" || $0 == "position" }

    /// An import line as one NDJSON object, its fields in file order.
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
            if integerFields[k], let number = Int64(value) {
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

    static let csvHeader = ImportLine.fields.joined(separator: ",")

    /// An import line as one CSV row, fields in file order (an unset one is empty).
    static func csv(_ line: ImportLine, into out: inout OutputBytes) {
        for k in ImportLine.fields.indices {
            if k > 0 { out.reserve(1); out.byte(UInt8(ascii: ",")) }
            if let value = line[field: k] { csvField(value, into: &out) }
        }
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

    /// One side of a journal transaction.
    private enum Posting {
        case assets(AccountID)
        case equity(StaticString)
    }

    /// One transaction; opens and closes carry no money and are comments. Written straight
    /// into `out` (a journal of a million events built no String per line), without the line
    /// end of its last line; a transaction ends with an empty line after it.
    static func journal(_ r: RecordedEvent, accounts: [AccountID: Account], into out: inout OutputBytes) {
        var time = r.timestamp.rfc3339
        time.withUTF8 { time in
            let date = UnsafeBufferPointer(rebasing: time.prefix(10))
            func put(_ bytes: UnsafeBufferPointer<UInt8>) {
                out.reserve(bytes.count)
                out.bytes(bytes)
            }
            func put(_ text: String) {
                var text = text
                text.withUTF8 { put($0) }
            }
            func put(_ text: StaticString) {
                put(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
            }
            // Text on one line (memos and ids hold no line breaks; a damaged one must not break the journal).
            func oneLine(_ text: String) {
                var text = text
                text.withUTF8 { bytes in
                    out.reserve(bytes.count)
                    for b in bytes { out.byte(b == 0x0A || b == 0x0D ? 0x20 : b) }
                }
            }
            func amount(_ id: AccountID, _ units: Int64) {
                guard let a = accounts[id] else { return put(String(units)) }
                put(a.format(units))
                put(" ")
                put(a.currency.code)
            }
            func put(_ posting: Posting) {
                switch posting {
                case .assets(let id):
                    put("assets:")
                    put(id.name)
                case .equity(let name): put(name)
                }
            }
            func transaction(credit: Posting, debit: Posting, _ side: AccountID, _ units: Int64) {
                put(date)
                put(" ")
                oneLine(r.event.metadata.memo ?? r.event.body.typeName)
                put("  ; position:")
                put(String(r.position))
                put(", time:")
                put(time)
                if let id = r.event.metadata.id {
                    put(", id:")
                    oneLine(id)
                }
                put("\n    ")
                put(credit)
                put("  ")
                amount(side, units)
                put("\n    ")
                put(debit)
                put("  -")
                amount(side, units)
                put("\n")
            }
            switch r.event.body {
            case .accountOpened(let a, let c, _, _):
                put("; ")
                put(date)
                put(" opened assets:")
                put(a.name)
                put(" (")
                put(c.code)
                put(")")
            case .accountClosed(let a):
                put("; ")
                put(date)
                put(" closed assets:")
                put(a.name)
            case .moneyDeposited(let a, let units):
                transaction(credit: .assets(a), debit: .equity("equity:deposits"), a, units)
            case .moneyWithdrawn(let a, let units):
                transaction(credit: .equity("equity:withdrawals"), debit: .assets(a), a, units)
            case .moneyTransferred(let from, let to, let units):
                transaction(credit: .assets(to), debit: .assets(from), from, units)
            case .moneyReversed(_, let from, let to, let units):
                // Undoing a deposit takes money back out to equity:deposits; undoing a withdrawal
                // brings it in from equity:withdrawals.
                guard let side = from ?? to else {
                    put("; ")
                    put(date)
                    put(" reversal without accounts at position ")
                    put(String(r.position))
                    return
                }
                transaction(credit: to.map(Posting.assets) ?? .equity("equity:deposits"),
                            debit: from.map(Posting.assets) ?? .equity("equity:withdrawals"), side, units)
            }
        }
    }
}
