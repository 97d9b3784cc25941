// Old schema versions and the pure functions that lift them to today's shape.
// A version, once written, is never removed from here: old stores stay readable.
//
// History:
//   AccountOpened v1: str account, str currency, u8 scale, metadata       (no overdraft)
//   AccountOpened v2: v1 + i64 overdraft before metadata                  (current)
//   AccountClosed, MoneyDeposited, MoneyWithdrawn, MoneyTransferred, MoneyReversed
//     v1: each account written as its name alone (str)
//     v2: each account written as u32 number + str name                  (current)
//     Lifting v1 needs nothing: the Event names accounts; only the fold uses numbers, and it
//     finds a v1 event's accounts by name.

enum Upcasters {
    static func decode(_ code: EventCodec.TypeCode, version: UInt16, _ r: inout ByteReader) throws -> Event {
        switch (code, version) {
        case (.accountOpened, 1):
            return upcastAccountOpenedV1(try decodeAccountOpenedV1(&r))
        case (.accountClosed, 1), (.moneyDeposited, 1), (.moneyWithdrawn, 1), (.moneyTransferred, 1), (.moneyReversed, 1):
            return try EventCodec.decodeBody(code, &r) { AccountID(trusted: try $0.string()) }
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
    /// The v1 payload of an event that names accounts (names alone, no numbers): the layout
    /// of stores written before account numbers. Not for an AccountOpened (its v1 is below).
    public static func namesOnlyV1(_ event: Event) -> (type: UInt16, version: UInt16, payload: [UInt8]) {
        var v1 = ByteWriter()
        switch event.body {
        case .accountOpened: preconditionFailure("an AccountOpened has no names-only v1 layout")
        case .accountClosed(let a): v1.string(a.name)
        case .moneyDeposited(let a, let amount), .moneyWithdrawn(let a, let amount):
            v1.string(a.name); v1.i64(amount)
        case .moneyTransferred(let from, let to, let amount):
            v1.string(from.name); v1.string(to.name); v1.i64(amount)
        case .moneyReversed(let reverses, let from, let to, let amount):
            v1.u64(reverses)
            v1.u8((from == nil ? 0 : 1) | (to == nil ? 0 : 2))
            if let from { v1.string(from.name) }
            if let to { v1.string(to.name) }
            v1.i64(amount)
        }
        EventCodec.encodeMetadata(event.metadata, &v1)
        return (EventCodec.typeCode(event.body).rawValue, 1, v1.bytes)
    }

    public static func accountOpenedV1(account: String, currency: String, scale: UInt8, metadata: EventMetadata = EventMetadata()) -> [UInt8] {
        Upcasters.encodeAccountOpenedV1(account: account, currency: currency, scale: scale, metadata: metadata)
    }
}
