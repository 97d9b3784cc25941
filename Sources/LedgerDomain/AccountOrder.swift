// Accounts in name order (AccountID's `<`: the byte order of the UTF-8 names), the order
// snapshots, the accounts listing and `balance` use. Sorting the Account values with that
// comparison directly moved each ~100-byte value and reached each name's bytes through its
// String for every comparison: ≈ 680 instructions a comparison, 95 M to sort 10 k accounts
// (callgrind), on the serial path at the end of an import. Here each name's first 16 bytes
// become two integers once, the sort compares those, and only names that share all 16
// bytes are compared whole.

extension AccountID {
    /// The name's first 16 bytes as two big-endian integers, zero-padded: ordered as the names
    /// are (no name holds a zero byte, so a shorter name sorts first), except that names
    /// sharing these 16 bytes tie.
    var orderPrefix: (UInt64, UInt64) {
        var name = self.name
        return name.withUTF8 { bytes in
            var words: (UInt64, UInt64) = (0, 0)
            withUnsafeMutableBytes(of: &words) { raw in
                raw.copyMemory(from: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes).prefix(16)))
            }
            return (UInt64(bigEndian: words.0), UInt64(bigEndian: words.1))
        }
    }
}

extension Array where Element == Account {
    /// Sorted by name; accounts with the same name keep their order.
    public func sortedByName() -> [Account] {
        guard count > 1 else { return self }
        var keys: [(high: UInt64, low: UInt64, index: Int)] = []
        keys.reserveCapacity(count)
        for (i, account) in enumerated() {
            let (high, low) = account.id.orderPrefix
            keys.append((high, low, i))
        }
        keys.sort { a, b in
            if a.high != b.high { return a.high < b.high }
            if a.low != b.low { return a.low < b.low }
            let x = self[a.index].id, y = self[b.index].id
            if x < y { return true }
            if y < x { return false }
            return a.index < b.index
        }
        return keys.map { self[$0.index] }
    }

    /// Sorts in place by name unless already in order (a check of neighbours, cheaper than a sort).
    public mutating func sortByName() {
        guard (1..<Swift.max(1, count)).contains(where: { !(self[$0 - 1].id < self[$0].id) }) else { return }
        self = sortedByName()
    }
}
