#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// The fold on the hot paths (replay, as-of): reads payload bytes in place and finds
// accounts through a byte-keyed hash table, so folding an event allocates nothing
// and creates no String. Agrees with EventCodec.decode + LedgerState.apply (tested).

/// The fields of an event as byte ranges into its payload; valid only while the payload is.
public struct RawEvent {
    public var type: EventCodec.TypeCode
    public var account: UnsafeRawBufferPointer
    public var other: UnsafeRawBufferPointer?
    public var amount: Int64 = 0
    public var currency: UnsafeRawBufferPointer?
    public var scale: Int = 0
    public var overdraft: Int64 = 0
    public var id: UnsafeRawBufferPointer?
    /// For MoneyReversed: the position it undoes.
    public var reverses: UInt64?
}

extension EventCodec {
    /// Reads the fields the fold needs (and the idempotency key) without decoding into Strings.
    public static func scan(type: UInt16, version: UInt16, payload: UnsafeRawBufferPointer) throws -> RawEvent {
        guard let code = TypeCode(rawValue: type), version >= 1, version <= currentVersion(code) else {
            throw DomainError.undecodable("unknown event type \(type) v\(version)")
        }
        var r = ByteReader(payload)
        if code == .moneyReversed {
            // Shaped like a transfer whose sides may be missing: `account` is the debited side.
            let reverses = try r.u64()
            let sides = try r.u8()
            let from = sides & 1 != 0 ? try r.stringBytes() : UnsafeRawBufferPointer(start: nil, count: 0)
            var e = RawEvent(type: code, account: from)
            e.other = sides & 2 != 0 ? try r.stringBytes() : nil
            e.amount = try r.i64()
            e.reverses = reverses
            if try r.u8() & 1 != 0 { e.id = try r.stringBytes() }
            return e
        }
        var e = RawEvent(type: code, account: try r.stringBytes())
        switch code {
        case .accountOpened:
            e.currency = try r.stringBytes()
            e.scale = Int(try r.u8())
            if version >= 2 { e.overdraft = try r.i64() }
        case .accountClosed: break
        case .moneyDeposited, .moneyWithdrawn: e.amount = try r.i64()
        case .moneyTransferred:
            e.other = try r.stringBytes()
            e.amount = try r.i64()
        case .moneyReversed: break
        }
        let flags = try r.u8()
        if flags & 1 != 0 { e.id = try r.stringBytes() }
        return e
    }
}

/// Every account's state, addressed by name bytes.
public struct CompactState {
    public private(set) var accounts: [Account] = []
    /// Account i's name is name number i.
    private var names = NameIndex()
    public private(set) var position: UInt64 = 0

    public init() {}

    public init(_ accounts: [Account], position: UInt64) {
        names = NameIndex(minimumCapacity: accounts.count)
        self.accounts.reserveCapacity(accounts.count)
        for a in accounts { _ = insert(a) }
        self.position = position
    }

    /// The index of the account named `name`, or nil.
    @inline(__always)
    public func index(of name: UnsafeRawBufferPointer) -> Int? { names.index(of: name) }

    /// Account `i`'s balance, version and whether it is closed, read without copying the account.
    public func summary(of i: Int) -> (balance: Int64, version: UInt64, closed: Bool) {
        // Through the buffer: the array's subscript would copy the account (and retain its strings).
        accounts.withUnsafeBufferPointer {
            let a = $0.baseAddress! + i
            return (a.pointee.balance, a.pointee.version, a.pointee.status == .closed)
        }
    }

    public func account(named name: String) -> Account? {
        var copy = name
        return copy.withUTF8 { index(of: UnsafeRawBufferPointer($0)) }.map { accounts[$0] }
    }

    private mutating func insert(_ account: Account) -> Int {
        var name = account.id.name
        _ = name.withUTF8 { names.add(UnsafeRawBufferPointer($0)) }
        accounts.append(account)
        return accounts.count - 1
    }

    /// The accounts an event names, as indices into `accounts` (-1: none, or not tracked):
    /// `account` is the event's account (a transfer's FROM), `other` a transfer's TO.
    public struct Touched {
        public var account = -1
        public var other = -1
    }

    /// Applies one event (as LedgerState.apply does); wraps instead of trapping, as Account.applying does.
    @discardableResult
    public mutating func apply(_ e: RawEvent, at position: UInt64) -> Touched {
        self.position = position
        var touched = Touched()
        if e.type == .accountOpened {
            if let existing = index(of: e.account) {
                touched.account = existing
                return touched
            }
            var a = Account(id: AccountID(trusted: String(decoding: e.account, as: UTF8.self)),
                            currency: Currency(trusted: String(decoding: e.currency ?? UnsafeRawBufferPointer(start: nil, count: 0), as: UTF8.self)),
                            scale: e.scale, overdraft: e.overdraft)
            a.version = 1
            a.lastPosition = position
            a.openedPosition = position
            touched.account = insert(a)
            return touched
        }
        // Each side independently: a caller may track only some accounts.
        let i = e.account.isEmpty ? nil : index(of: e.account)
        let j = e.type == .moneyTransferred || e.type == .moneyReversed ? e.other.flatMap { index(of: $0) } : nil
        // Through the buffer: the array's subscript would copy an account to read a field.
        accounts.withUnsafeMutableBufferPointer { all in
            if let i {
                let a = all.baseAddress! + i
                switch e.type {
                case .accountClosed: a.pointee.status = .closed
                case .moneyDeposited: a.pointee.balance = a.pointee.balance &+ e.amount
                case .moneyWithdrawn, .moneyTransferred, .moneyReversed: a.pointee.balance = a.pointee.balance &- e.amount
                case .accountOpened: break
                }
                a.pointee.version += 1
                a.pointee.lastPosition = position
                touched.account = i
            }
            if let j {
                let b = all.baseAddress! + j
                b.pointee.balance = b.pointee.balance &+ e.amount
                b.pointee.version += 1
                b.pointee.lastPosition = position
                touched.other = j
            }
        }
        return touched
    }
}
