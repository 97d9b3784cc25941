@testable import LedgerCLI
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
}
