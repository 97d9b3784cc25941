import LedgerDomain
import LedgerTestSupport
import Testing

/// ByteWriter writes in place into storage it grows itself: its bytes must be exactly the
/// little-endian fields appended (texts and accounts included), across many growths and after
/// resets.
@Suite struct ByteWriterTests {
    @Test func fieldsAreLittleEndianAcrossGrowthAndReset() {
        var rng = SplitMix64(seed: 11)
        var writer = ByteWriter()
        for round in 0..<3 {
            var expected: [UInt8] = []
            // Enough fields (some long texts) to grow the storage several times past its start.
            for _ in 0..<2_000 {
                switch Int.random(in: 0..<8, using: &rng) {
                case 0:
                    let v = UInt8.random(in: 0...255, using: &rng)
                    writer.u8(v); expected.append(v)
                case 1:
                    let v = UInt16.random(in: 0...UInt16.max, using: &rng)
                    writer.u16(v); expected += [UInt8(v & 0xFF), UInt8(v >> 8)]
                case 2:
                    let v = UInt32.random(in: 0...UInt32.max, using: &rng)
                    writer.u32(v); expected += (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) }
                case 3:
                    let v = UInt64.random(in: 0...UInt64.max, using: &rng)
                    writer.u64(v); expected += (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) }
                case 4:
                    let v = Int64.random(in: Int64.min...Int64.max, using: &rng)
                    writer.i64(v); expected += (0..<8).map { UInt8(truncatingIfNeeded: UInt64(bitPattern: v) >> (8 * $0)) }
                case 5:
                    // An account: number, then its name as a text, written in one go.
                    let number = UInt32.random(in: 0...UInt32.max, using: &rng)
                    let name = String(repeating: "acc_", count: Int.random(in: 1..<40, using: &rng))
                    writer.account(number, name)
                    let utf8 = Array(name.utf8)
                    expected += (0..<4).map { UInt8(truncatingIfNeeded: number >> (8 * $0)) }
                    expected += [UInt8(utf8.count & 0xFF), UInt8(utf8.count >> 8)] + utf8
                case 6:
                    let bytes = (0..<Int.random(in: 0..<300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                    bytes.withUnsafeBytes { writer.text($0) }
                    expected += [UInt8(bytes.count & 0xFF), UInt8(bytes.count >> 8)] + bytes
                default:
                    let text = String(repeating: "é", count: Int.random(in: 0..<300, using: &rng))
                    writer.string(text)
                    let utf8 = Array(text.utf8)
                    expected += [UInt8(utf8.count & 0xFF), UInt8(utf8.count >> 8)] + utf8
                }
            }
            #expect(writer.bytes == expected, "round \(round)")
            #expect(writer.count == expected.count)
            #expect(writer.withBytes { Array($0) } == expected)
            writer.reset()
            #expect(writer.count == 0 && writer.bytes.isEmpty)
        }
    }
}
