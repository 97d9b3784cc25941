// `ledger export`: the history as import lines, so export → import into an empty store
// gives the same events, timestamps, balances and as-of answers. The CLI renders them
// (ndjson, csv, or an hledger/ledger-cli journal); this file only maps events to lines.

import LedgerDomain
import LedgerStorage

extension Ledger {
    /// Visits every event in log order with its import line and the accounts it touches.
    public func exportEvents(_ visit: (RecordedEvent, ImportLine, [AccountID: Account]) -> Void) throws {
        _ = try events(from: 1) { recorded, accounts in
            visit(recorded, Self.importLine(recorded, accounts: accounts), accounts)
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
}
