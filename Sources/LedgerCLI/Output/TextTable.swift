// Human tables: left/right aligned columns, rendered as bytes.

/// A table's body, cell by cell: what TextTable needs to lay it out.
protocol TableRows {
    var count: Int { get }
    /// Cell (row, column)'s width in characters, and its length in bytes.
    func measure(_ row: Int, _ column: Int) -> (width: Int, bytes: Int)
    /// Writes the cell's bytes (the room `measure` gave is made before).
    func write(_ row: Int, _ column: Int, into out: inout OutputBytes)
}

/// Left/right aligned columns for human tables.
enum TextTable {
    /// A table's cells, row by row, as bytes back to back (no String or array per cell or row).
    struct Cells {
        private(set) var bytes: [UInt8] = []
        /// Where each cell ends in `bytes`.
        private(set) var ends: [Int] = []

        init(capacity: Int = 0) {
            bytes.reserveCapacity(capacity * 8)
            ends.reserveCapacity(capacity)
        }

        init(_ rows: [[String]]) {
            self.init(capacity: rows.count * (rows.first?.count ?? 0))
            for row in rows { for cell in row { add(cell) } }
        }

        mutating func add(_ text: String) {
            var text = text
            text.withUTF8 { bytes.append(contentsOf: $0) }
            ends.append(bytes.count)
        }

        /// A cell whose bytes `write` appends.
        mutating func add(_ write: (inout [UInt8]) -> Void) {
            write(&bytes)
            ends.append(bytes.count)
        }

        mutating func add(_ number: UInt64) {
            add { out in
                var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
                let count = withUnsafeMutableBytes(of: &digits) { d -> Int in
                    var n = number, k = 0
                    repeat {
                        d[23 - k] = UInt8(ascii: "0") + UInt8(n % 10)
                        n /= 10
                        k += 1
                    } while n > 0
                    return k
                }
                withUnsafeBytes(of: &digits) { out.append(contentsOf: $0[(24 - count)...]) }
            }
        }
    }

    /// The table as UTF-8 lines joined by newlines (no final one), columns two spaces apart.
    static func render(_ header: [String], _ rows: [[String]], rightAligned: Set<Int>) -> [UInt8] {
        OutputBytes.build(capacity: 1 << 12) { write(header, Cells(rows), rightAligned: rightAligned, into: &$0) }
    }

    static func render(_ header: [String], _ cells: Cells, rightAligned: Set<Int>) -> [UInt8] {
        OutputBytes.build(capacity: 1 << 12) { write(header, cells, rightAligned: rightAligned, into: &$0) }
    }

    static func write(_ header: [String], _ cells: Cells, rightAligned: Set<Int>, into out: inout OutputBytes) {
        write(header, CellRows(cells, columns: header.count), rightAligned: rightAligned, into: &out)
    }

    /// Writes the table's lines into `out`: the header, then `rows`, each cell measured for its
    /// column's width and then written straight into the output (a 10k-account balance answer
    /// builds no String, and no copy of its cells, per line or cell).
    static func write<Rows: TableRows>(_ header: [String], _ rows: Rows, rightAligned: Set<Int>, into out: inout OutputBytes) {
        let columns = header.count
        var titles = Cells(capacity: columns)
        for title in header { titles.add(title) }
        let titleRows = CellRows(titles, columns: columns)
        var widths = (0..<columns).map { titleRows.measure(0, $0).width }
        for r in 0..<rows.count {
            for c in 0..<columns { widths[c] = max(widths[c], rows.measure(r, c).width) }
        }
        let right = header.indices.map { rightAligned.contains($0) }
        var sizes = [CellSize](repeating: CellSize(width: 0, bytes: 0), count: columns)
        line(titleRows, 0, widths: widths, right: right, sizes: &sizes, into: &out)
        for r in 0..<rows.count {
            out.reserve(1)
            out.byte(0x0A)
            line(rows, r, widths: widths, right: right, sizes: &sizes, into: &out)
        }
    }

    /// Row `r`: cells padded to their column's width (left or right), two spaces apart, with no
    /// trailing spaces (a left-aligned last column, or empty cells at the end). `sizes`: room
    /// for the row's measures, reused from row to row.
    private static func line<Rows: TableRows>(_ rows: Rows, _ r: Int, widths: [Int], right: [Bool],
                                              sizes: inout [CellSize], into out: inout OutputBytes) {
        var bytes = 0, padded = 0
        for c in widths.indices {
            let (width, cellBytes) = rows.measure(r, c)
            sizes[c] = CellSize(width: width, bytes: cellBytes)
            bytes += sizes[c].bytes
            padded += widths[c] + 2
        }
        // Padding is by characters, so the line has at most its padded width plus its bytes.
        out.reserve(padded + bytes)
        let lineStart = out.offset
        for c in widths.indices {
            let pad = widths[c] - sizes[c].width
            if c > 0 { out.repeating(0x20, count: 2) }
            if right[c] { out.repeating(0x20, count: pad) }
            rows.write(r, c, into: &out)
            if !right[c] { out.repeating(0x20, count: pad) }
        }
        out.trimTrailing(0x20, downTo: lineStart)
    }

    /// A cell's measure (a nominal type: an array of tuples has its metadata built at run time).
    private struct CellSize {
        var width: Int
        var bytes: Int
    }

    /// `Cells` as rows of `columns` cells; an all-ASCII table (the usual one) is measured by bytes.
    private struct CellRows: TableRows {
        let cells: Cells
        let columns: Int
        let ascii: Bool

        init(_ cells: Cells, columns: Int) {
            self.cells = cells
            self.columns = columns
            ascii = cells.bytes.withUnsafeBufferPointer { TextTable.isASCII($0) }
        }

        var count: Int { cells.ends.count / columns }

        private func range(_ r: Int, _ c: Int) -> Range<Int> {
            let k = r * columns + c
            return (k == 0 ? 0 : cells.ends[k - 1])..<cells.ends[k]
        }

        func measure(_ r: Int, _ c: Int) -> (width: Int, bytes: Int) {
            let bytes = range(r, c)
            guard !ascii else { return (bytes.count, bytes.count) }
            return cells.bytes.withUnsafeBufferPointer { b in
                let cell = UnsafeBufferPointer(rebasing: b[bytes])
                return (cell.allSatisfy { $0 < 0x80 } ? cell.count : String(decoding: cell, as: UTF8.self).count, cell.count)
            }
        }

        func write(_ r: Int, _ c: Int, into out: inout OutputBytes) {
            cells.bytes.withUnsafeBufferPointer { out.bytes(UnsafeBufferPointer(rebasing: $0[range(r, c)])) }
        }
    }

    /// Whether every byte is below 0x80, eight at a time.
    static func isASCII(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let p = b.baseAddress else { return true }
        var i = 0
        var any: UInt64 = 0
        while i + 8 <= b.count {
            any |= UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
            i += 8
        }
        while i < b.count { any |= UInt64(p[i]); i += 1 }
        return any & 0x8080_8080_8080_8080 == 0
    }
}
