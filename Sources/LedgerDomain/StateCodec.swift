// Fixed-size binary form of one account's state, as stored in views and snapshots.
// 60 bytes: currency[12] (zero padded), u8 scale, u8 status, u16 reserved,
// i64 overdraft, i64 balance, u64 version, u64 lastPosition, u64 openedPosition,
// u32 account number + 1 (0: not recorded; snapshots do not record it, and records
// written before account numbers were 0 there).

public enum StateCodec {
    public static let accountBytes = 60
    public static let keyBytesMax = AccountID.bytesMax

    public static func encode(_ a: Account, number: UInt32? = nil) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: accountBytes) { buffer, count in
            encode(a, number: number, into: UnsafeMutableRawPointer(buffer.baseAddress!))
            count = accountBytes
        }
    }

    /// Writes the `accountBytes` bytes of `a`'s state at `p`, with its number if given.
    public static func encode(_ a: Account, number: UInt32? = nil, into p: UnsafeMutableRawPointer) {
        encode(identity: a, balance: a.balance, version: a.version, status: a.status, lastPosition: a.lastPosition, number: number, into: p)
    }

    /// `encode`, the account's currency, scale, overdraft and opening from `identity` and the
    /// rest as given (a fold that keeps them apart builds no Account to encode one).
    static func encode(identity a: Account, balance: Int64, version: UInt64, status: Account.Status, lastPosition: UInt64,
                       number: UInt32?, into p: UnsafeMutableRawPointer) {
        p.initializeMemory(as: UInt8.self, repeating: 0, count: accountBytes)
        var code = a.currency.code
        code.withUTF8 { if let b = $0.baseAddress { p.copyMemory(from: b, byteCount: min($0.count, Currency.bytesMax)) } }
        p.storeBytes(of: UInt8(truncatingIfNeeded: a.scale), toByteOffset: 12, as: UInt8.self)
        p.storeBytes(of: status.rawValue, toByteOffset: 13, as: UInt8.self)
        p.storeBytes(of: a.overdraft.littleEndian, toByteOffset: 16, as: Int64.self)
        p.storeBytes(of: balance.littleEndian, toByteOffset: 24, as: Int64.self)
        p.storeBytes(of: version.littleEndian, toByteOffset: 32, as: UInt64.self)
        p.storeBytes(of: lastPosition.littleEndian, toByteOffset: 40, as: UInt64.self)
        p.storeBytes(of: a.openedPosition.littleEndian, toByteOffset: 48, as: UInt64.self)
        if let number {
            precondition(number < UInt32.max)
            p.storeBytes(of: (number + 1).littleEndian, toByteOffset: 56, as: UInt32.self)
        }
    }

    /// The account number recorded in an encoded state, or nil when none was.
    public static func number(_ raw: UnsafeRawBufferPointer) -> UInt32? {
        guard raw.count == accountBytes else { return nil }
        let stored = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 56, as: UInt32.self))
        return stored == 0 ? nil : stored - 1
    }

    public static func number(_ bytes: [UInt8]) -> UInt32? { bytes.withUnsafeBytes { number($0) } }

    public static func decode(id: AccountID, _ bytes: [UInt8]) throws -> Account {
        try bytes.withUnsafeBytes { try decode(id: id, $0) }
    }

    public static func decode(id: AccountID, _ raw: UnsafeRawBufferPointer) throws -> Account {
        guard raw.count == accountBytes else { throw DomainError.undecodable("account state is \(raw.count) bytes, expected \(accountBytes)") }
        var r = ByteReader(raw)
        let code = UnsafeRawBufferPointer(rebasing: raw[0..<Currency.bytesMax])
        r.offset = Currency.bytesMax
        let scale = Int(try r.u8())
        guard let status = Account.Status(rawValue: try r.u8()) else { throw DomainError.undecodable("bad account status") }
        _ = try r.u16()
        // The code is zero padded (and never contains a zero byte).
        let codeLength = code.firstIndex(of: 0) ?? code.count
        var a = Account(id: id, currency: Currency(trusted: String(decoding: UnsafeRawBufferPointer(rebasing: code[0..<codeLength]), as: UTF8.self)),
                        scale: scale, overdraft: try r.i64())
        a.balance = try r.i64()
        a.version = try r.u64()
        a.lastPosition = try r.u64()
        a.openedPosition = try r.u64()
        a.status = status
        return a
    }
}
