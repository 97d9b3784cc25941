// The rows of `ledger balance` as a human table: each cell measured and written straight from
// the accounts (a 10k-account answer made no cell copies or Strings to lay out).

import LedgerDomain

struct BalanceRows: TableRows {
    static let header = ["ACCOUNT", "BALANCE", "CURRENCY", "VERSION", "STATUS"]
    static let rightAligned: Set<Int> = [1, 3]

    let accounts: [Account]

    var count: Int { accounts.count }

    func measure(_ row: Int, _ column: Int) -> (width: Int, bytes: Int) {
        let a = accounts[row]
        switch column {
        case 0: return Self.measure(a.id.name)
        case 1:
            let n = Money.textLength(a.balance, scale: a.scale)
            return (n, n)
        case 2: return Self.measure(a.currency.code)
        case 3:
            var n = 1, rest = a.version / 10
            while rest > 0 { n += 1; rest /= 10 }
            return (n, n)
        default: return a.status == .closed ? (6, 6) : (0, 0)
        }
    }

    func write(_ row: Int, _ column: Int, into out: inout OutputBytes) {
        let a = accounts[row]
        switch column {
        case 0: Self.write(a.id.name, into: &out)
        case 1: out.money(a.balance, scale: a.scale)
        case 2: Self.write(a.currency.code, into: &out)
        case 3: out.digits(a.version)
        default: if a.status == .closed { out.literal("closed") }
        }
    }

    /// Characters (an ASCII text's bytes) and bytes.
    private static func measure(_ text: String) -> (width: Int, bytes: Int) {
        let bytes = text.utf8.count
        return (text.utf8.allSatisfy { $0 < 0x80 } ? bytes : text.count, bytes)
    }

    private static func write(_ text: String, into out: inout OutputBytes) {
        var text = text
        text.withUTF8 { out.bytes($0) }
    }
}
