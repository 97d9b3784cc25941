// A least-significant-digit radix sort of 64-bit integers on a range of their bits: what
// SlotTableWriter orders a partition's entries by home slot with (homes are uniform hashes,
// the case a comparison sort is slowest at and a radix sort fastest at). Stable: integers
// equal on those bits keep their order.

enum RadixSort {
    /// Bits sorted per pass: 2^11 counters fit the L1 cache.
    static let digitBits = 11

    /// Sorts `keys` by the bits in `bits` (bit 0 the least significant), stably.
    static func sort(_ keys: inout [UInt64], bits: Range<Int>) {
        let n = keys.count
        guard n > 1, !bits.isEmpty else { return }
        let lo = bits.lowerBound, width = bits.count
        if n <= 64 {
            // Insertion sort: stable, and cheaper than the passes for a few keys.
            let mask: UInt64 = width >= 64 ? .max : (1 << UInt64(width)) - 1
            for i in 1..<n {
                let k = keys[i], d = (k >> UInt64(lo)) & mask
                var j = i
                while j > 0 && (keys[j - 1] >> UInt64(lo)) & mask > d {
                    keys[j] = keys[j - 1]
                    j -= 1
                }
                keys[j] = k
            }
            return
        }
        var scratch = [UInt64](repeating: 0, count: n)
        var counts = [Int](repeating: 0, count: 1 << digitBits)
        var inScratch = false
        var shift = lo
        while shift < bits.upperBound {
            let digit = min(digitBits, bits.upperBound - shift)
            let mask = (1 << digit) - 1
            keys.withUnsafeMutableBufferPointer { a in
                scratch.withUnsafeMutableBufferPointer { b in
                    counts.withUnsafeMutableBufferPointer { c in
                        let (src, dst) = inScratch ? (b, a) : (a, b)
                        for i in 0...mask { c[i] = 0 }
                        for k in src { c[Int(truncatingIfNeeded: k >> UInt64(shift)) & mask] += 1 }
                        var sum = 0
                        for i in 0...mask {
                            let t = c[i]
                            c[i] = sum
                            sum += t
                        }
                        for k in src {
                            let d = Int(truncatingIfNeeded: k >> UInt64(shift)) & mask
                            dst[c[d]] = k
                            c[d] += 1
                        }
                    }
                }
            }
            inScratch.toggle()
            shift += digit
        }
        if inScratch { keys = scratch }
    }
}
