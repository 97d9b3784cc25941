// The rows of `ledger balance` as a human table: each cell measured and written straight from
// the accounts (a 10k-account answer made no cell copies or Strings to lay out).

import LedgerDomain

struct BalanceRows: TableRows {
    static let header = ["ACCOUNT", "BALANCE", "CURRENCY", "VERSION", "STATUS"]
    static let rightAligned: Set<Int> = [1, 3]

    let accounts: [Account]
    /// Each name's width and bytes, measured once (every cell is measured twice).
    private let names: [NameSize]

    /// (A nominal type: an array of tuples has its metadata built at run time, which every
    /// command would pay for.)
    private struct NameSize {
        let width: Int32
        let bytes: Int32
    }

    init(accounts: [Account]) {
        self.accounts = accounts
        names = accounts.map { a in
            let (width, bytes) = Self.measure(a.id.name)
            return NameSize(width: Int32(width), bytes: Int32(bytes))
        }
    }

    var count: Int { accounts.count }

    func measure(_ row: Int, _ column: Int) -> (width: Int, bytes: Int) {
        // Fields read through the buffer: the subscript would copy the account (and its Strings).
        accounts.withUnsafeBufferPointer { all in
            let a = all.baseAddress! + row
            switch column {
            case 0: return (Int(names[row].width), Int(names[row].bytes))
            case 1:
                let n = Money.textLength(a.pointee.balance, scale: a.pointee.scale)
                return (n, n)
            case 2: return Self.measure(a.pointee.currency.code)
            case 3:
                var n = 1, rest = a.pointee.version / 10
                while rest > 0 { n += 1; rest /= 10 }
                return (n, n)
            default: return a.pointee.status == .closed ? (6, 6) : (0, 0)
            }
        }
    }

    func write(_ row: Int, _ column: Int, into out: inout OutputBytes) {
        accounts.withUnsafeBufferPointer { all in
            let a = all.baseAddress! + row
            switch column {
            case 0: Self.write(a.pointee.id.name, into: &out)
            case 1: out.money(a.pointee.balance, scale: a.pointee.scale)
            case 2: Self.write(a.pointee.currency.code, into: &out)
            case 3: out.digits(a.pointee.version)
            default: if a.pointee.status == .closed { out.literal("closed") }
            }
        }
    }

    /// Characters (an ASCII text's bytes) and bytes.
    private static func measure(_ text: String) -> (width: Int, bytes: Int) {
        var copy = text
        return copy.withUTF8 { utf8 in (TextTable.isASCII(utf8) ? utf8.count : text.count, utf8.count) }
    }

    private static func write(_ text: String, into out: inout OutputBytes) {
        var text = text
        text.withUTF8 { out.bytes($0) }
    }
}
