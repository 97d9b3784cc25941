// The account names an import's lines mention, numbered in order of first appearance. The
// parser thread turns each name into its number straight from the line's bytes (no String,
// no SipHash per line); the validating thread keeps its state in an array by that number.

struct AccountNames {
    /// Open addressing by name hash: a name's number + 1, 0 for an empty slot.
    private var table: [Int32]
    private var shift: UInt64
    /// Per number: where its bytes start in `arena` (the next one's start is where they end).
    private var starts: [Int] = [0]
    private var arena: [UInt8] = []

    var count: Int { starts.count - 1 }

    init() {
        table = Array(repeating: 0, count: 1024)
        shift = 64 - 10
    }

    /// The number of `name`, given its HistoryView.nameHash, and whether this call gave it.
    mutating func number(_ name: UnsafeRawBufferPointer, hash: UInt32) -> (number: Int32, isNew: Bool) {
        var i = index(hash)
        let mask = table.count - 1
        while true {
            let entry = table[i]
            if entry == 0 { break }
            if matches(Int(entry - 1), name) { return (entry - 1, false) }
            i = (i + 1) & mask
        }
        let number = Int32(count)
        arena.append(contentsOf: name)
        starts.append(arena.count)
        table[i] = number + 1
        if count * 2 > table.count { grow() }
        return (number, true)
    }

    private func index(_ hash: UInt32) -> Int {
        Int(truncatingIfNeeded: (UInt64(hash) &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    private func matches(_ number: Int, _ name: UnsafeRawBufferPointer) -> Bool {
        let start = starts[number], length = starts[number + 1] - start
        guard length == name.count else { return false }
        // Names are short: compare a word at a time rather than call memcmp.
        return arena.withUnsafeBytes { a in
            let p = a.baseAddress! + start, q = name.baseAddress!
            var k = 0
            while k + 8 <= length {
                if p.loadUnaligned(fromByteOffset: k, as: UInt64.self) != q.loadUnaligned(fromByteOffset: k, as: UInt64.self) { return false }
                k += 8
            }
            while k < length {
                if p.load(fromByteOffset: k, as: UInt8.self) != q.load(fromByteOffset: k, as: UInt8.self) { return false }
                k += 1
            }
            return true
        }
    }

    private mutating func grow() {
        table = Array(repeating: 0, count: table.count * 2)
        shift -= 1
        let mask = table.count - 1
        for number in 0..<count {
            let hash = arena.withUnsafeBytes { HistoryView.nameHash(UnsafeRawBufferPointer(rebasing: $0[starts[number]..<starts[number + 1]])) }
            var i = index(hash)
            while table[i] != 0 { i = (i + 1) & mask }
            table[i] = Int32(number + 1)
        }
    }
}
