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

    /// The table as UTF-8 lines joined by newlines (no final one), columns two spaces apart, rendered
    /// in one buffer: a 10k-account balance answer builds no String per line or cell.
    static func render(_ header: [String], _ rows: [[String]], rightAligned: Set<Int>) -> [UInt8] {
        render(header, Cells(rows), rightAligned: rightAligned)
    }

    static func render(_ header: [String], _ cells: Cells, rightAligned: Set<Int>) -> [UInt8] {
        let columns = header.count
        var titles = Cells(capacity: columns)
        for title in header { titles.add(title) }
        // Each cell's display width (its characters; an ASCII cell's bytes), and each column's.
        var widths = [Int](repeating: 0, count: columns)
        func cellWidths(_ source: Cells) -> [Int] {
            source.bytes.withUnsafeBufferPointer { b in
                var out = [Int](repeating: 0, count: source.ends.count)
                var start = 0
                for (k, end) in source.ends.enumerated() {
                    let cell = UnsafeBufferPointer(rebasing: b[start..<end])
                    out[k] = cell.allSatisfy { $0 < 0x80 } ? cell.count : String(decoding: cell, as: UTF8.self).count
                    widths[k % columns] = max(widths[k % columns], out[k])
                    start = end
                }
                return out
            }
        }
        let titleWidths = cellWidths(titles), rowWidths = cellWidths(cells)
        let right = header.indices.map { rightAligned.contains($0) }
        let rows = cells.ends.count / columns
        // Padding is by characters, so a line has at most its padded width plus its cells' bytes.
        let capacity = (rows + 1) * (widths.reduce(0, +) + 2 * columns + 1) + titles.bytes.count + cells.bytes.count
        return [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
            let out = buffer.baseAddress!
            var o = 0
            func line(_ source: Cells, _ sourceWidths: [Int], firstCell: Int) {
                source.bytes.withUnsafeBufferPointer { b in
                    let lineStart = o
                    var from = firstCell == 0 ? 0 : source.ends[firstCell - 1]
                    for i in 0..<columns {
                        let to = source.ends[firstCell + i]
                        let pad = widths[i] - sourceWidths[firstCell + i]
                        if i > 0 { (out + o).initialize(repeating: 0x20, count: 2); o += 2 }
                        if right[i] { (out + o).initialize(repeating: 0x20, count: pad); o += pad }
                        if to > from { (out + o).initialize(from: b.baseAddress! + from, count: to - from); o += to - from }
                        if !right[i] { (out + o).initialize(repeating: 0x20, count: pad); o += pad }
                        from = to
                    }
                    // No trailing spaces (a left-aligned last column, or empty cells at the end).
                    while o > lineStart, out[o - 1] == 0x20 { o -= 1 }
                }
            }
            line(titles, titleWidths, firstCell: 0)
            for r in 0..<rows {
                out[o] = 0x0A
                o += 1
                line(cells, rowWidths, firstCell: r * columns)
            }
            precondition(o <= capacity)
            count = o
        }
    }
}
