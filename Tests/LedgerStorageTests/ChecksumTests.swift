import Foundation
import LedgerStorage
import LedgerTestSupport
import Testing

/// Bit-at-a-time CRC32C: the reference the fast paths are checked against.
func referenceCRC32C(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
    }
    return ~crc
}

@Suite struct CRC32CTests {
    @Test func standardCheckValue() {
        let check = Array("123456789".utf8)
        #expect(CRC32C.checksum(check) == 0xE306_9283)
        #expect(check.withUnsafeBytes { CRC32C.softwareChecksum($0) } == 0xE306_9283)
        #expect(referenceCRC32C(check) == 0xE306_9283)
    }

    @Test func emptyInputIsZero() {
        #expect(CRC32C.checksum([]) == 0)
    }

    @Test func fastPathsMatchBitwiseReferenceOnRandomInputs() {
        let seed: UInt64 = 0xC0FFEE
        var rng = SplitMix64(seed: seed)
        for length in Array(0..<80) + [127, 128, 129, 1000, 4096, 65_537] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // Also check unaligned starts.
            for skip in [0, 1, 3] where skip <= length {
                let slice = Array(bytes[skip...])
                let expected = referenceCRC32C(slice)
                #expect(CRC32C.checksum(slice) == expected, "seed \(seed) length \(length) skip \(skip)")
                #expect(slice.withUnsafeBytes { CRC32C.softwareChecksum($0) } == expected, "seed \(seed) length \(length)")
            }
        }
    }
}

@Suite struct SHA256Tests {
    func hex(_ text: String) -> String { Hex.encode(SHA256.hash(Array(text.utf8))) }

    @Test func bothKernelsAgreeOnRandomInputs() {
        var rng = SplitMix64(seed: 11)
        for length in [0, 1, 55, 56, 63, 64, 65, 127, 128, 1000, 4096, 65_537] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            var portable = SHA256(kernel: .portable)
            portable.update(bytes)
            let expected = portable.finalize()
            if SHA256.hardwareAvailable {
                var hardware = SHA256(kernel: .hardware)
                let split = length / 3
                hardware.update(Array(bytes[..<split]))
                hardware.update(Array(bytes[split...]))
                #expect(hardware.finalize() == expected, "length \(length)")
            }
            #expect(SHA256.hash(bytes) == expected, "length \(length)")
        }
        var abc = SHA256(kernel: .portable)
        abc.update(Array("abc".utf8))
        #expect(Hex.encode(abc.finalize()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func nistVectors() {
        #expect(hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu")
                == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
        var million = SHA256()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { million.update(chunk) }
        #expect(Hex.encode(million.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func streamingInPiecesEqualsOneShot() {
        var rng = SplitMix64(seed: 42)
        let bytes = (0..<1000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for split in [0, 1, 55, 56, 63, 64, 65, 500, 999] {
            var s = SHA256()
            s.update(Array(bytes[..<split]))
            s.update(Array(bytes[split...]))
            #expect(s.finalize() == SHA256.hash(bytes), "split \(split)")
        }
    }

    @Test func matchesSha256sumOnRandomInputs() throws {
        let dir = TemporaryDirectory()
        var rng = SplitMix64(seed: 7)
        for length in [0, 1, 55, 56, 64, 119, 120, 1000, 100_000] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let path = dir.path + "/blob"
            FileDamage.write(bytes, path)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
            process.arguments = [path]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(String(output.prefix(64)) == Hex.encode(SHA256.hash(bytes)), "length \(length)")
        }
    }
}
