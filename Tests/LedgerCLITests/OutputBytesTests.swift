import Foundation
@testable import LedgerCLI
import LedgerDomain
import Testing

/// The raw output writer: short copies done as overlapping words, buffers sent to a descriptor
/// when full, JSON strings that read back as written, amounts as Money.format gives them.
@Suite struct OutputBytesTests {
    @Test func copiesAndPadsOfEveryShortLengthAreExact() {
        let source = (0..<48).map { UInt8(ascii: "a") + UInt8($0 % 26) }
        for n in 0...40 {
            for pad in [0, 1, 3, 7, 8, 9, 15, 16, 17, 30] {
                let out = OutputBytes.build(capacity: 0) { out in
                    out.reserve(1 + n + pad + 1)
                    out.byte(UInt8(ascii: "<"))
                    source.withUnsafeBufferPointer { out.bytes(UnsafeBufferPointer(rebasing: $0[3..<(3 + n)])) }
                    out.repeating(UInt8(ascii: "."), count: pad)
                    out.byte(UInt8(ascii: ">"))
                }
                #expect(out == [UInt8(ascii: "<")] + source[3..<(3 + n)] + [UInt8](repeating: UInt8(ascii: "."), count: pad) + [UInt8(ascii: ">")],
                        "copy \(n), pad \(pad)")
            }
        }
    }

    @Test func aBufferGrowsInMemoryAndIsSentWhenFullToADescriptor() throws {
        // 300 KiB of numbered lines: built in memory, and streamed to a file (64 KiB at a time).
        func lines(_ out: inout OutputBytes) {
            for i in 0..<40_000 {
                out.reserve(24)
                out.digits(UInt64(i) * 1_000_003)
                out.byte(0x0A)
            }
        }
        let built = OutputBytes.build(capacity: 16, lines)
        #expect(built.count > 300_000)
        #expect(String(decoding: built.prefix(20), as: UTF8.self) == "0\n1000003\n2000006\n30")
        let path = "/tmp/ledger-output-bytes-\(getpid())"
        defer { unlink(path) }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        #expect(fd >= 0)
        OutputBytes.write(to: fd, lines)
        close(fd)
        let received = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(received == built)
    }

    @Test func jsonStringsReadBackAndAmountsMatchTheirFormatter() {
        var texts = ["", "plain", "acc_000042", "q\"uote", "back\\slash", "tab\there", "line\nbreak", "café ☕", "\u{1}\u{1f}\r"]
        texts.append(String(decoding: (0..<128).map { UInt8($0) }, as: UTF8.self))
        for text in texts {
            // Read back by Foundation's parser: the same text.
            let json = OutputBytes.build(capacity: 0) { $0.jsonString(text) }
            let parsed = try? JSONSerialization.jsonObject(with: Data(json), options: .fragmentsAllowed) as? String
            #expect(parsed == text, "\(text.debugDescription)")
        }
        // The escapes themselves: short forms where JSON has them, \u00XX for other controls.
        #expect(OutputBytes.build(capacity: 0) { $0.jsonString("q\"b\\n\nt\tr\r\u{1}") } == Array(#""q\"b\\n\nt\tr\r\u0001""#.utf8))
        for units in [Int64.min, Int64.min + 1, -1_000_001, -5, -1, 0, 1, 7, 99, 100, 123_456_789, Int64.max] {
            for scale in 0...18 {
                let out = OutputBytes.build(capacity: 0) { out in
                    out.reserve(Money.textBytesMax)
                    out.money(units, scale: scale)
                }
                #expect(String(decoding: out, as: UTF8.self) == Money.format(units, scale: scale), "\(units) at \(scale)")
                #expect(out.count <= Money.textBytesMax)
            }
        }
        for v in [UInt64(0), 9, 10, 99, 100, 12_345, UInt64.max] {
            #expect(OutputBytes.build(capacity: 0) { o in o.reserve(20); o.digits(v) } == Array("\(v)".utf8))
        }
    }
}
