// Names (byte strings) numbered in the order they were added, found by their bytes: the
// fold's account index (CompactState) and an import's account numbering (its parser
// thread). A lookup of a name up to 23 bytes touches one cache line and makes no String.

public struct NameIndex {
    /// Every name's bytes, back to back; name k is names[nameStart[k] ..< nameStart[k + 1]].
    private var names: [UInt8] = []
    private var nameStart: [Int] = [0]
    /// Open addressing, four words a slot: (hash tag << 32 | number + 1; 0 = empty), then the
    /// name's length (255 for a longer one) and its first 23 bytes. A name that short is compared in the slot itself,
    /// so a lookup touches one cache line; a longer one is compared with `names`.
    private var slots: [UInt64] = [UInt64](repeating: 0, count: 4 * 1024)
    private static let inlineNameBytes = 23

    public init() {}

    /// Room for `count` names without growing (an index filled from a snapshot's accounts).
    public init(minimumCapacity count: Int) {
        var slotCount = 1024
        while count * 2 > slotCount { slotCount *= 2 }
        slots = [UInt64](repeating: 0, count: 4 * slotCount)
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
    /// up starts loading it: the table is larger than a core's cache with thousands of names).
    /// Returns the name's hash, for `number(of:hash:)` to look it up without hashing it again.
    @discardableResult
    public func withHome(of name: UnsafeRawBufferPointer, _ body: (UnsafeRawPointer) -> Void) -> UInt64 {
        let mask = slots.count / 4 - 1
        let h = Self.hash(name)
        let i = Int(truncatingIfNeeded: h) & mask
        slots.withUnsafeBytes { body($0.baseAddress! + i * 32) }
        return h
    }

    /// The number of `name`, or nil.
    public func index(of name: UnsafeRawBufferPointer) -> Int? {
        index(of: name, hash: Self.hash(name))
    }

    /// `index(of:)` for a name whose hash is known (`withHome` gave it).
    public func index(of name: UnsafeRawBufferPointer, hash h: UInt64) -> Int? {
        let tag = h >> 32
        let mask = slots.count / 4 - 1
        var i = Int(truncatingIfNeeded: h) & mask
        return slots.withUnsafeBytes { table in
            while true {
                let slot = table.baseAddress! + i * 32
                let s = slot.load(as: UInt64.self)
                if s == 0 { return nil }
                if s >> 32 == tag {
                    let k = Int(truncatingIfNeeded: s & 0xFFFF_FFFF) - 1
                    if name.count <= Self.inlineNameBytes {
                        if Int(slot.load(fromByteOffset: 8, as: UInt8.self)) == name.count
                            && (name.count == 0 || Self.equal(slot + 9, name.baseAddress!, name.count)) { return k }
                    } else if matchesStoredName(k, name) {
                        return k
                    }
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
        if (count + 1) * 2 > slots.count / 4 { grow() }
        names.append(contentsOf: name)
        nameStart.append(names.count)
        place(count - 1)
        return count - 1
    }

    /// Whether name `k` (kept in `names`) is `name`.
    private func matchesStoredName(_ k: Int, _ name: UnsafeRawBufferPointer) -> Bool {
        let start = nameStart[k], count = nameStart[k + 1] - start
        return count == name.count && names.withUnsafeBytes { Self.equal($0.baseAddress! + start, name.baseAddress!, count) }
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

    private mutating func place(_ k: Int) {
        let start = nameStart[k], count = nameStart[k + 1] - start
        names.withUnsafeBytes { all in
            let name = UnsafeRawBufferPointer(rebasing: all[start..<(start + count)])
            let h = Self.hash(name)
            let mask = slots.count / 4 - 1
            var i = Int(truncatingIfNeeded: h) & mask
            slots.withUnsafeMutableBytes { table in
                while table.load(fromByteOffset: i * 32, as: UInt64.self) != 0 { i = (i + 1) & mask }
                let slot = table.baseAddress! + i * 32
                slot.storeBytes(of: (h >> 32) << 32 | UInt64(k + 1), as: UInt64.self)
                if count <= Self.inlineNameBytes {
                    slot.storeBytes(of: UInt8(count), toByteOffset: 8, as: UInt8.self)
                    if count > 0 { (slot + 9).copyMemory(from: name.baseAddress!, byteCount: count) }
                } else {
                    // No inline length can match it (an empty name's 0 included).
                    slot.storeBytes(of: UInt8.max, toByteOffset: 8, as: UInt8.self)
                }
            }
        }
    }

    private mutating func grow() {
        slots = [UInt64](repeating: 0, count: slots.count * 2)
        for k in 0..<count { place(k) }
    }
}
