@testable import LedgerCLI
import LedgerDomain
import Testing

/// Human tables: columns padded by characters (not bytes), right or left aligned, no trailing spaces.
@Suite struct TextTableTests {
    @Test func columnsAreAlignedByCharactersWithNoTrailingSpaces() {
        let rows = [
            ["alice", "1.50", "café ☕", "7", ""],
            ["bob-the-builder", "12345.00", "x", "10", "closed"],
            ["é", "ü", "", "", ""],
        ]
        var cells = TextTable.Cells(capacity: 15)
        for (k, row) in rows.enumerated() {
            for (i, cell) in row.enumerated() {
                // Both ways of adding a cell: a String, and a number's digits.
                if i == 3, let n = UInt64(cell), k < 2 { cells.add(n) } else { cells.add(cell) }
            }
        }
        let out = String(decoding: TextTable.render(["NAME", "AMOUNT", "NOTE", "N", "STATUS"], cells, rightAligned: [1, 3]), as: UTF8.self)
        let expected = """
            NAME               AMOUNT  NOTE     N  STATUS
            alice                1.50  café ☕   7
            bob-the-builder  12345.00  x       10  closed
            é                       ü
            """
        #expect(out == expected)
        // The [[String]] form renders the same.
        let same = TextTable.render(["NAME", "AMOUNT", "NOTE", "N", "STATUS"], rows, rightAligned: [1, 3]) == Array(expected.utf8)
        #expect(same)
        // A header alone.
        #expect(TextTable.render(["A", "B"], [], rightAligned: []) == Array("A  B".utf8))
    }

    @Test func anAllASCIITableIsMeasuredByBytesAlike() {
        // Every cell ASCII: widths come from byte counts (no per-cell widths); the layout rules
        // (two spaces, alignment, no trailing spaces, a cell of spaces trimmed at a line's end) hold.
        let rows = [["a", "1", "x "], ["bbb", "22", ""], ["", "", "  "], ["cc", "333", "yy"]]
        let out = String(decoding: TextTable.render(["K", "V", "NOTE"], rows, rightAligned: [1]), as: UTF8.self)
        #expect(out == "K      V  NOTE\na      1  x\nbbb   22\n\ncc   333  yy")
    }

    @Test func balanceRowsLayOutAsTheirCellsWould() {
        // Written straight from the accounts, the table equals the one made from each cell's text:
        // non-ASCII and long names, negative and zero balances at scales 0 to 18, closed accounts.
        var accounts: [Account] = []
        let names = ["alice", "café-☕", "b", "a-much-longer-account-name", "zoë"]
        for (k, name) in names.enumerated() {
            for scale in [0, 2, 3, 18] {
                var a = Account(id: AccountID(trusted: "\(name)-\(scale)"), currency: Currency(trusted: k == 1 ? "EUR" : "USD"), scale: scale, overdraft: 0)
                a.balance = [Int64(0), -5, 123_456_789, Int64.min, Int64.max, -1_000][(k + scale) % 6]
                a.version = UInt64(k * 1_000 + scale)
                if k == 2 { a.status = .closed }
                accounts.append(a)
            }
        }
        var cells = TextTable.Cells(capacity: accounts.count * 5)
        for a in accounts {
            cells.add(a.id.name)
            cells.add(Money.format(a.balance, scale: a.scale))
            cells.add(a.currency.code)
            cells.add(a.version)
            cells.add(a.status == .closed ? "closed" : "")
        }
        let expected = TextTable.render(BalanceRows.header, cells, rightAligned: BalanceRows.rightAligned)
        let direct = OutputBytes.build(capacity: 0) {
            TextTable.write(BalanceRows.header, BalanceRows(accounts: accounts), rightAligned: BalanceRows.rightAligned, into: &$0)
        }
        #expect(String(decoding: direct, as: UTF8.self) == String(decoding: expected, as: UTF8.self))
        for units in [Int64.min, -1_000_001, -5, -1, 0, 1, 9, 10, 99, 100, Int64.max] {
            for scale in 0...18 { #expect(Money.textLength(units, scale: scale) == Money.format(units, scale: scale).utf8.count) }
        }
    }
}
