import Foundation
@testable import LedgerStorage
import LedgerTestSupport
import Testing

/// The runs of plain records a scan checks in C (`ledger_scan_records`) against the scan that
/// checks every frame in Swift: on sound segments and on ones damaged anywhere (a flipped bit,
/// zeroed bytes, a cut, a record made wrong with its CRC made again), read whole, from a record inside a batch, and up to a record inside
/// one, both hand out the same batches and stop the same way, with the same words.
@Suite struct FrameRunTests {
    /// What a scan of `path` hands out and how it ends.
    static func scan(_ path: String, runsInC: Bool, from offset: Int, position: UInt64, stopInBatch: UInt64,
                     window: Int?) throws -> [String] {
        let fd = try FileDescriptor.open(path, O_RDONLY)
        defer { fd.close() }
        let scanner = SegmentScanner(fd: fd, name: "s", endOffset: try fd.size(), mapWindowBytes: window, runsInC: runsInC)
        var state = ScanState(nextPosition: position, lastTimestampMicros: .min, chain: nil, verifyChain: false, committedEnd: offset)
        var out: [String] = []
        do {
            let stop = try scanner.scanBatches(from: offset, state: &state, partialFirstBatch: offset != RecordFormat.segmentHeaderBytes,
                                               stopInBatch: stopInBatch) { batch in
                out.append("\(batch.firstPosition)+\(batch.count)@\(batch.fileOffset):\(batch.frames.count)")
                return true
            }
            out.append("\(stop)")
        } catch {
            out.append("thrown: \(error)")
        }
        out.append("next \(state.nextPosition), end \(state.committedEnd)")
        return out
    }

    @Test func runsCheckedInCMatchEveryFrameCheckedInSwift() throws {
        guard CRC32C.hardwareAvailable else { return }
        var rng = SplitMix64(seed: 17)
        var next = 0
        let batches = (0..<40).map { _ in
            (0..<Int.random(in: 1...60, using: &rng)).map { _ -> String in
                next += 1
                return "\(next):" + String(repeating: "p", count: Int.random(in: 0...90, using: &rng))
            }
        }
        let dir = TemporaryDirectory()
        try LogFixture.append(dir, batches: batches, segmentBytes: 1 << 20)
        let path = try LogFixture.segmentPaths(dir)[0]
        let pristine = FileDamage.read(path)
        // Where records start (to read from one inside a batch), from a sound scan.
        var starts: [(offset: Int, position: UInt64)] = []
        let fd = try FileDescriptor.open(path, O_RDONLY)
        var state = ScanState(nextPosition: 1, lastTimestampMicros: .min, chain: nil, verifyChain: false, committedEnd: RecordFormat.segmentHeaderBytes)
        _ = try SegmentScanner(fd: fd, name: "s", endOffset: try fd.size()).scan(from: RecordFormat.segmentHeaderBytes, state: &state) { record, offset, _ in
            starts.append((offset, record.position))
            return true
        }
        fd.close()
        #expect(starts.count == next)
        for trial in 0..<400 {
            var bytes = pristine
            switch trial % 5 {
            case 0: break
            case 4:
                // A record made wrong with its CRC made again (as a crafted log would be): its
                // timestamp before the one before it, another position, or a storage type.
                let o = starts[Int.random(in: 1..<starts.count, using: &rng)].offset
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: for k in 0..<8 { bytes[o + 16 + k] = 0 }
                case 1: bytes[o + 8] &+= 1
                default: bytes[o + 25] = 0xFF
                }
                let body = Int(bytes[o]) | Int(bytes[o + 1]) << 8 | Int(bytes[o + 2]) << 16 | Int(bytes[o + 3]) << 24
                let crc = bytes[(o + 8)..<(o + 8 + body)].withUnsafeBytes { CRC32C.checksum($0) }
                for k in 0..<4 { bytes[o + 4 + k] = UInt8(truncatingIfNeeded: crc >> (8 * k)) }
            case 1:
                let at = Int.random(in: RecordFormat.segmentHeaderBytes..<bytes.count, using: &rng)
                bytes[at] ^= UInt8(1 << Int.random(in: 0..<8, using: &rng))
            case 2:
                let at = Int.random(in: RecordFormat.segmentHeaderBytes..<bytes.count, using: &rng)
                for k in at..<min(bytes.count, at + Int.random(in: 1...40, using: &rng)) { bytes[k] = 0 }
            default:
                bytes.removeLast(Int.random(in: 1...500, using: &rng))
            }
            FileDamage.write(bytes, path)
            let from = trial % 3 == 0 ? starts[Int.random(in: 0..<starts.count, using: &rng)] : (RecordFormat.segmentHeaderBytes, UInt64(1))
            let stop = trial % 5 == 0 ? UInt64(Int.random(in: 1...next, using: &rng)) : .max
            let window: Int? = trial % 2 == 0 ? nil : 4096
            let inC = try Self.scan(path, runsInC: true, from: from.0, position: from.1, stopInBatch: stop, window: window)
            let inSwift = try Self.scan(path, runsInC: false, from: from.0, position: from.1, stopInBatch: stop, window: window)
            #expect(inC == inSwift, "trial \(trial): from \(from.1), stop \(stop)")
        }
    }
}
