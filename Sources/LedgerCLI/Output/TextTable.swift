// Human tables: left/right aligned columns, rendered as bytes.

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

    /// Writes the table's lines into `out`: a 10k-account balance answer builds no String per
    /// line or cell, and a table of ASCII cells (the usual one) measures each cell by its bytes.
    static func write(_ header: [String], _ cells: Cells, rightAligned: Set<Int>, into out: inout OutputBytes) {
        let columns = header.count
        var titles = Cells(capacity: columns)
        for title in header { titles.add(title) }
        // Each cell's display width (its characters; an ASCII cell's bytes), and each column's.
        // (Values handed around, not variables the nested functions capture: a captured var is
        // boxed and every access to it checked for exclusivity at run time, per cell.)
        var columnWidths = [Int](repeating: 0, count: columns)
        let titleWidths = cellWidths(titles, columns: columns, widest: &columnWidths)
        let rowWidths = cellWidths(cells, columns: columns, widest: &columnWidths)
        let widths = columnWidths
        let right = header.indices.map { rightAligned.contains($0) }
        let rows = cells.ends.count / columns
        // Padding is by characters, so a line has at most its padded width plus its cells' bytes.
        let lineMax = widths.reduce(0, +) + 2 * columns + 1
        func line(_ source: Cells, _ sourceWidths: [Int]?, firstCell: Int) {
            source.bytes.withUnsafeBufferPointer { b in
                var from = firstCell == 0 ? 0 : source.ends[firstCell - 1]
                out.reserve(lineMax + source.ends[firstCell + columns - 1] - from)
                let lineStart = out.offset
                for i in 0..<columns {
                    let to = source.ends[firstCell + i]
                    let pad = widths[i] - (sourceWidths?[firstCell + i] ?? to - from)
                    if i > 0 { out.repeating(0x20, count: 2) }
                    if right[i] { out.repeating(0x20, count: pad) }
                    out.bytes(UnsafeBufferPointer(rebasing: b[from..<to]))
                    if !right[i] { out.repeating(0x20, count: pad) }
                    from = to
                }
                // No trailing spaces (a left-aligned last column, or empty cells at the end).
                out.trimTrailing(0x20, downTo: lineStart)
            }
        }
        line(titles, titleWidths, firstCell: 0)
        for r in 0..<rows {
            out.reserve(1)
            out.byte(0x0A)
            line(cells, rowWidths, firstCell: r * columns)
        }
    }

    /// Each cell's display width, nil when every cell is ASCII (its width is then its byte
    /// count); raises `widest` to each column's widest cell.
    private static func cellWidths(_ source: Cells, columns: Int, widest: inout [Int]) -> [Int]? {
        source.bytes.withUnsafeBufferPointer { b in
            let ascii = isASCII(b)
            var out: [Int] = ascii ? [] : [Int](repeating: 0, count: source.ends.count)
            var start = 0, column = 0
            for (k, end) in source.ends.enumerated() {
                var width = end - start
                if !ascii {
                    let cell = UnsafeBufferPointer(rebasing: b[start..<end])
                    if !cell.allSatisfy({ $0 < 0x80 }) { width = String(decoding: cell, as: UTF8.self).count }
                    out[k] = width
                }
                widest[column] = max(widest[column], width)
                start = end
                column = column + 1 == columns ? 0 : column + 1
            }
            return ascii ? nil : out
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
