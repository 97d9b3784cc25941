// Fixed-size binary form of one account's state, as stored in views and snapshots.
// 60 bytes: currency[12] (zero padded), u8 scale, u8 status, u16 reserved,
// i64 overdraft, i64 balance, u64 version, u64 lastPosition, u64 openedPosition, u32 reserved.

public enum StateCodec {
    public static let accountBytes = 60
    public static let keyBytesMax = AccountID.bytesMax

    public static func encode(_ a: Account) -> [UInt8] {
        var w = ByteWriter()
        let currency = Array(a.currency.code.utf8)
        w.bytes += currency + [UInt8](repeating: 0, count: Currency.bytesMax - currency.count)
        w.u8(UInt8(a.scale)); w.u8(a.status.rawValue); w.u16(0)
        w.i64(a.overdraft); w.i64(a.balance); w.u64(a.version); w.u64(a.lastPosition); w.u64(a.openedPosition); w.u32(0)
        precondition(w.bytes.count == accountBytes)
        return w.bytes
    }

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
