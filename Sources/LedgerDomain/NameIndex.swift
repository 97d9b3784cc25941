// Names (byte strings) numbered in the order they were added, found by their bytes: the
// fold's account index (CompactState) and an import's account numbering (its parser
// thread). A lookup reads a slot word and the name's bytes, and makes no String.

public struct NameIndex {
    /// Every name's bytes, back to back; name k is names[nameStart[k] ..< nameStart[k + 1]].
    private var names: [UInt8] = []
    private var nameStart: [Int] = [0]
    /// Open addressing, one word a slot: hash tag << 32 | number + 1 (0 = empty). A tag that
    /// matches is confirmed against `names`. Eight bytes a slot keep the table of 10 k names
    /// at 256 KiB, which stays in a core's L2 cache with the names themselves (slots of 32
    /// bytes with the name inline, 1 MiB, did not: a lookup of an import's parser missed it,
    /// ≈ 45 ns each).
    private var slots: [UInt64] = [UInt64](repeating: 0, count: 1024)

    public init() {}

    /// Room for `count` names without growing (an index filled from a snapshot's accounts).
    public init(minimumCapacity count: Int) {
        var slotCount = 1024
        while count * 2 > slotCount { slotCount *= 2 }
        slots = [UInt64](repeating: 0, count: slotCount)
        nameStart.reserveCapacity(count + 1)
        names.reserveCapacity(count * 16)
    }

    /// How many names there are (the next one's number).
    public var count: Int { nameStart.count - 1 }

    /// Calls `body` with name `k`'s bytes (valid only during the call).
    public func withName<T>(_ k: Int, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        let start = nameStart[k], end = nameStart[k + 1]
        return try names.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
    }

    /// In memory only: eight bytes at a time, the last eight overlapping the ones before (a
    /// short name is read in whole words, never a byte at a time), then a final mix (high bits
    /// tag, low bits index).
    @inlinable @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let k: UInt64 = 0xBF58_476D_1CE4_E5B9
        let n = bytes.count
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(n)
        if let p = bytes.baseAddress, n > 0 {
            if n >= 8 {
                var q = p, left = n
                while left > 8 {
                    h = (h ^ q.loadUnaligned(as: UInt64.self)) &* k
                    h ^= h >> 31
                    q += 8
                    left -= 8
                }
                h = (h ^ (p + n - 8).loadUnaligned(as: UInt64.self)) &* k
            } else if n >= 4 {
                let v = UInt64(p.loadUnaligned(as: UInt32.self)) | UInt64((p + n - 4).loadUnaligned(as: UInt32.self)) << 32
                h = (h ^ v) &* k
            } else {
                let v = UInt64(p.load(as: UInt8.self)) | UInt64(p.load(fromByteOffset: n / 2, as: UInt8.self)) << 8
                    | UInt64(p.load(fromByteOffset: n - 1, as: UInt8.self)) << 16
                h = (h ^ v) &* k
            }
        }
        h = (h ^ (h >> 33)) &* 0xFF51_AFD7_ED55_8CCD
        return h ^ (h >> 33)
    }

    /// Calls `body` with the address where a lookup of `name` starts (a caller about to look it
    /// up starts loading it). Returns the name's hash, for `number(of:hash:)` to look it up
    /// without hashing it again.
    @discardableResult
    public func withHome(of name: UnsafeRawBufferPointer, _ body: (UnsafeRawPointer) -> Void) -> UInt64 {
        let mask = slots.count - 1
        let h = Self.hash(name)
        let i = Int(truncatingIfNeeded: h) & mask
        slots.withUnsafeBytes { body($0.baseAddress! + i * 8) }
        return h
    }

    /// The number of `name`, or nil.
    public func index(of name: UnsafeRawBufferPointer) -> Int? {
        index(of: name, hash: Self.hash(name))
    }

    /// `index(of:)` for a name whose hash is known (`withHome` gave it).
    public func index(of name: UnsafeRawBufferPointer, hash h: UInt64) -> Int? {
        let tag = h >> 32
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: h) & mask
        return slots.withUnsafeBufferPointer { table in
            while true {
                let s = table[i]
                if s == 0 { return nil }
                if s >> 32 == tag {
                    let k = Int(truncatingIfNeeded: s & 0xFFFF_FFFF) - 1
                    if matchesStoredName(k, name) { return k }
                }
                i = (i + 1) & mask
            }
        }
    }

    /// The number of `name`, which is added (as number `count`) when it is not there yet.
    public mutating func number(of name: UnsafeRawBufferPointer) -> (number: Int, isNew: Bool) {
        number(of: name, hash: Self.hash(name))
    }

    /// `number(of:)` for a name whose hash is known (`withHome` gave it).
    public mutating func number(of name: UnsafeRawBufferPointer, hash: UInt64) -> (number: Int, isNew: Bool) {
        if let k = index(of: name, hash: hash) { return (k, false) }
        return (add(name), true)
    }

    /// Adds `name`, which must not be there yet, as number `count`.
    @discardableResult
    public mutating func add(_ name: UnsafeRawBufferPointer) -> Int {
        if (count + 1) * 2 > slots.count { grow() }
        names.append(contentsOf: name)
        nameStart.append(names.count)
        place(count - 1, hash: Self.hash(name))
        return count - 1
    }

    /// Whether name `k` (kept in `names`) is `name`.
    @inline(__always)
    private func matchesStoredName(_ k: Int, _ name: UnsafeRawBufferPointer) -> Bool {
        nameStart.withUnsafeBufferPointer { starts in
            let start = starts[k], count = starts[k + 1] - start
            return count == name.count && (count == 0 || names.withUnsafeBytes { Self.equal($0.baseAddress! + start, name.baseAddress!, count) })
        }
    }

    /// Whether `count` bytes at `a` and `b` are equal (names are short: no call to memcmp).
    @inline(__always)
    static func equal(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
        var k = 0
        while k + 8 <= count {
            if a.loadUnaligned(fromByteOffset: k, as: UInt64.self) != b.loadUnaligned(fromByteOffset: k, as: UInt64.self) { return false }
            k += 8
        }
        while k < count {
            if a.load(fromByteOffset: k, as: UInt8.self) != b.load(fromByteOffset: k, as: UInt8.self) { return false }
            k += 1
        }
        return true
    }

    private mutating func place(_ k: Int, hash h: UInt64) {
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: h) & mask
        slots.withUnsafeMutableBufferPointer { table in
            while table[i] != 0 { i = (i + 1) & mask }
            table[i] = (h >> 32) << 32 | UInt64(k + 1)
        }
    }

    private mutating func grow() {
        slots = [UInt64](repeating: 0, count: slots.count * 2)
        for k in 0..<count { place(k, hash: withName(k) { Self.hash($0) }) }
    }
}
