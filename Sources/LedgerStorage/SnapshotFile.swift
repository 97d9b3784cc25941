// A snapshot file: an opaque payload tagged with the log position (and its time
// and chain value) it reflects, checksummed, written atomically. A cache: a
// damaged one is reported and skipped, never believed.
//
// header (80 bytes): "LEDGRSNP", u32 version (1), u32 reserved, u64 position, i64 timestampMicros,
//   chain[32], u64 payloadBytes, u32 crc32c(payload), u32 crc32c(header 0..<76); then the payload.
// Name: snapshots/<position, 20 digits>.snap

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

public struct SnapshotFile: Equatable {
    public static let headerBytes = 80
    static let magic = Array("LEDGRSNP".utf8)
    public static let suffix = ".snap"

    public let position: UInt64
    public let timestampMicros: Int64
    public let chain: [UInt8]
    public let payload: [UInt8]

    public init(position: UInt64, timestampMicros: Int64, chain: [UInt8], payload: [UInt8]) {
        self.position = position
        self.timestampMicros = timestampMicros
        self.chain = chain
        self.payload = payload
    }

    public static func name(position: UInt64) -> String { RecordFormat.paddedPosition(position) + suffix }

    public static func position(ofName name: String) -> UInt64? {
        guard name.hasSuffix(suffix) else { return nil }
        let stem = name.dropLast(suffix.count)
        guard stem.count == RecordFormat.nameDigits, stem.allSatisfy({ $0 >= "0" && $0 <= "9" }) else { return nil }
        return UInt64(stem)
    }

    public func encoded() -> [UInt8] {
        precondition(chain.count == SHA256.digestBytes)
        var h = Self.magic
        h.appendLE(UInt32(1)); h.appendLE(UInt32(0)); h.appendLE(position); h.appendLE(timestampMicros)
        h += chain
        h.appendLE(UInt64(payload.count)); h.appendLE(CRC32C.checksum(payload))
        h.appendLE(CRC32C.checksum(h))
        return h + payload
    }

    /// Writes atomically (temp, fsync, rename, directory fsync) into `directory`.
    public func write(to directory: String) throws {
        try StorageError.wrapping {
            try FileSystem.makeDirectory(directory)
            try AtomicFile.write(encoded(), to: directory + "/" + Self.name(position: position))
        }
    }

    public enum ReadError: Error, Equatable, CustomStringConvertible {
        case damaged(name: String, reason: String)
        public var description: String {
            switch self { case .damaged(let name, let reason): return "snapshot \(name) is damaged: \(reason)" }
        }
    }

    /// Reads and checks one snapshot file; damage is a ReadError naming why.
    public static func read(directory: String, position: UInt64) throws -> SnapshotFile {
        let name = Self.name(position: position)
        guard let fd = try StorageError.wrapping({ try FileDescriptor.openIfExists(directory + "/" + name, O_RDONLY) }) else {
            throw ReadError.damaged(name: name, reason: "missing")
        }
        defer { fd.close() }
        // Header and payload read separately: the payload lands in its own array, copied once.
        let size = try StorageError.wrapping { try fd.size() }
        let header = try StorageError.wrapping { try fd.read(count: headerBytes, at: 0) }
        guard header.count == headerBytes, Array(header[0..<8]) == magic else { throw ReadError.damaged(name: name, reason: "bad header") }
        return try header.withUnsafeBytes { raw in
            let p = raw.baseAddress!
            guard LE.u32(p, 76) == CRC32C.checksum(UnsafeRawBufferPointer(start: p, count: 76)) else {
                throw ReadError.damaged(name: name, reason: "header CRC mismatch")
            }
            guard LE.u32(p, 8) == 1 else { throw ReadError.damaged(name: name, reason: "unknown version \(LE.u32(p, 8))") }
            let payloadBytes = Int(truncatingIfNeeded: LE.u64(p, 64))
            guard size - headerBytes == payloadBytes else {
                throw ReadError.damaged(name: name, reason: "\(size - headerBytes) payload bytes, header says \(payloadBytes)")
            }
            let payload = try StorageError.wrapping { try fd.read(count: payloadBytes, at: headerBytes) }
            guard payload.count == payloadBytes else { throw ReadError.damaged(name: name, reason: "shorter than its header says") }
            guard LE.u32(p, 72) == CRC32C.checksum(payload) else { throw ReadError.damaged(name: name, reason: "payload CRC mismatch") }
            guard LE.u64(p, 16) == position else { throw ReadError.damaged(name: name, reason: "header says position \(LE.u64(p, 16))") }
            return SnapshotFile(position: position, timestampMicros: LE.i64(p, 24),
                                chain: Array(header[32..<64]), payload: payload)
        }
    }

    /// Positions of the snapshot files in `directory`, ascending.
    public static func list(directory: String) throws -> [UInt64] {
        guard FileSystem.isDirectory(directory) else { return [] }
        return try StorageError.wrapping { try FileSystem.list(directory) }.compactMap(position(ofName:)).sorted()
    }

    public static func size(directory: String, position: UInt64) -> Int {
        FileSystem.fileSize(directory + "/" + name(position: position)) ?? 0
    }
}
