@testable import LedgerDomain
import LedgerTestSupport
import Testing

/// The byte-keyed name index behind the fold and an import's account numbers: numbers in
/// order of first mention, against a Dictionary, for short names and longer ones, with the
/// table growing many times.
@Suite struct NameIndexTests {
    /// The hash reads short names in overlapping words: every byte of a name of any length
    /// still counts (any one bit flipped changes it), and bytes around the name do not.
    /// So does the fold's 32-bit check of a name (CompactState.Moving.nameHash, two words for a
    /// name of 8 to 16 bytes, NameIndex.hash's otherwise).
    @Test(arguments: [false, true])
    func everyByteOfANameCountsInItsHash(check: Bool) {
        var rng = SplitMix64(seed: 3)
        for length in 1...40 {
            var padded = (0..<(length + 16)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            func hash(_ bytes: [UInt8]) -> UInt64 {
                bytes.withUnsafeBytes {
                    let name = UnsafeRawBufferPointer(rebasing: $0[8..<(8 + length)])
                    return check ? UInt64(CompactState.Moving.nameHash(name)) : NameIndex.hash(name)
                }
            }
            let h = hash(padded)
            for i in 8..<(8 + length) {
                for bit in 0..<8 {
                    padded[i] ^= UInt8(1 << bit)
                    #expect(hash(padded) != h, "length \(length), byte \(i - 8), bit \(bit)")
                    padded[i] ^= UInt8(1 << bit)
                }
            }
            // The bytes before and after the name are not read.
            padded[7] ^= 0xFF
            padded[8 + length] ^= 0xFF
            #expect(hash(padded) == h)
        }
        #expect(NameIndex.hash(UnsafeRawBufferPointer(start: nil, count: 0)) != NameIndex.hash(UnsafeRawBufferPointer(start: [UInt8(0)], count: 1)))
    }

    /// Grown from the smallest table, and made with room for a few thousand names first.
    @Test(arguments: [0, 5000])
    func namesAreNumberedInOrderOfFirstMention(room: Int) {
        var rng = SplitMix64(seed: 7)
        var index = room == 0 ? NameIndex() : NameIndex(minimumCapacity: room)
        var oracle: [String: Int] = [:]
        let alphabet = Array("ab:/_-.0123456789")
        for _ in 0..<30_000 {
            // Many repeats, shared prefixes, names that are prefixes of others, short names and
            // longer ones (20-30 bytes); enough distinct ones to grow the table several times.
            let length = Int.random(in: 0..<10, using: &rng) == 0 ? Int.random(in: 20...30, using: &rng) : Int.random(in: 1...6, using: &rng)
            let name = String((0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] })
            let bytes = Array(name.utf8)
            let known = oracle[name]
            #expect(bytes.withUnsafeBytes { index.index(of: $0) } == known, "\(name)")
            // Every other name is looked up with the hash its prefetch gave (an import's way).
            let viaHome = Bool.random(using: &rng)
            let (number, isNew) = bytes.withUnsafeBytes { name in
                viaHome ? index.number(of: name, hash: index.withHome(of: name) { _ in }) : index.number(of: name)
            }
            if let known {
                #expect(number == known && !isNew, "\(name)")
            } else {
                #expect(number == oracle.count && isNew, "\(name)")
                oracle[name] = number
            }
        }
        #expect(index.count == oracle.count && oracle.count > 3000)
    }
}
