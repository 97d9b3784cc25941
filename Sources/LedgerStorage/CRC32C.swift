// CRC32C (Castagnoli, reflected polynomial 0x82F63B78): the SSE4.2 instruction
// when the CPU has it, else a hand-written slicing-by-8 table walk.

import CLedgerAccel

public enum CRC32C {
    static var hardwareAvailable: Bool { ledger_crc32c_hw() != 0 }

    /// CRC32C of `bytes` (initial value and final xor 0xFFFFFFFF).
    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        ~update(0xFFFF_FFFF, bytes)
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }

    /// Advances a raw (not inverted) CRC state.
    @usableFromInline
    static func update(_ state: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return state }
        if hardwareAvailable {
            return ledger_crc32c_hw_update(state, base, bytes.count)
        }
        return softwareUpdate(state, bytes)
    }

    /// Slicing-by-8: eight 256-entry tables, eight bytes per step.
    static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
            t[i] = c
        }
        for i in 0..<256 {
            for k in 1..<8 {
                let prev = t[(k - 1) * 256 + i]
                t[k * 256 + i] = (prev >> 8) ^ t[Int(prev & 0xFF)]
            }
        }
        return t
    }()

    /// The portable path; public so the benchmark and tests can measure and check it directly.
    public static func softwareChecksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        ~softwareUpdate(0xFFFF_FFFF, bytes)
    }

    static func softwareUpdate(_ state: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc = state
        var i = 0
        let n = bytes.count
        tables.withUnsafeBufferPointer { t in
            while n - i >= 8 {
                let lo = bytes.loadUnaligned(fromByteOffset: i, as: UInt32.self).littleEndian ^ crc
                let hi = bytes.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self).littleEndian
                crc = t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int((lo >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((lo >> 16) & 0xFF)] ^ t[4 * 256 + Int(lo >> 24)]
                    ^ t[3 * 256 + Int(hi & 0xFF)] ^ t[2 * 256 + Int((hi >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
                i += 8
            }
            while i < n {
                crc = (crc >> 8) ^ t[Int((crc ^ UInt32(bytes[i])) & 0xFF)]
                i += 1
            }
        }
        return crc
    }
}
