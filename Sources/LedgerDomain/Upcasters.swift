// Old schema versions and the pure functions that lift them to today's shape.
// A version, once written, is never removed from here: old stores stay readable.
//
// History:
//   AccountOpened v1: str account, str currency, u8 scale, metadata       (no overdraft)
//   AccountOpened v2: v1 + i64 overdraft before metadata                  (current)

enum Upcasters {
    static func decode(_ code: EventCodec.TypeCode, version: UInt16, _ r: inout ByteReader) throws -> Event {
        switch (code, version) {
        case (.accountOpened, 1):
            return upcastAccountOpenedV1(try decodeAccountOpenedV1(&r))
        default:
            throw DomainError.undecodable("no upcaster for event type \(code.rawValue) v\(version)")
        }
    }

    struct AccountOpenedV1: Equatable {
        let account: String
        let currency: String
        let scale: UInt8
        let metadata: EventMetadata
    }

    static func decodeAccountOpenedV1(_ r: inout ByteReader) throws -> AccountOpenedV1 {
        AccountOpenedV1(account: try r.string(), currency: try r.string(), scale: try r.u8(),
                        metadata: try EventCodec.decodeMetadata(&r))
    }

    /// v1 accounts had no overdraft facility: the v2 field is 0.
    static func upcastAccountOpenedV1(_ v1: AccountOpenedV1) -> Event {
        Event(.accountOpened(account: AccountID(trusted: v1.account), currency: Currency(trusted: v1.currency),
                             scale: Int(v1.scale), overdraft: 0), metadata: v1.metadata)
    }

    /// Writes the v1 layout; used only to build fixtures and tests of the upcaster.
    public static func encodeAccountOpenedV1(account: String, currency: String, scale: UInt8, metadata: EventMetadata) -> [UInt8] {
        var w = ByteWriter()
        w.string(account); w.string(currency); w.u8(scale)
        EventCodec.encodeMetadata(metadata, &w)
        return w.bytes
    }
}

/// Public entry for tests and fixture generators.
public enum LegacyEncoding {
    public static func accountOpenedV1(account: String, currency: String, scale: UInt8, metadata: EventMetadata = EventMetadata()) -> [UInt8] {
        Upcasters.encodeAccountOpenedV1(account: account, currency: currency, scale: scale, metadata: metadata)
    }
}
