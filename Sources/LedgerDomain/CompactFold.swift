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
    /// Every name's bytes, back to back; account i's name is names[nameStart[i] ..< nameStart[i + 1]].
    private var names: [UInt8] = []
    private var nameStart: [Int] = [0]
    /// Open addressing, four words a slot: (hash tag << 32 | index + 1; 0 = empty), then the
    /// name's length (255 for a longer one) and its first 23 bytes. A name that short is compared in the slot itself,
    /// so a lookup touches one cache line; a longer one is compared with `names`.
    private var slots: [UInt64] = [UInt64](repeating: 0, count: 4 * 1024)
    private static let inlineNameBytes = 23
    public private(set) var position: UInt64 = 0

    public init() {}

    public init(_ accounts: [Account], position: UInt64) {
        for a in accounts { _ = insert(a) }
        self.position = position
    }

    /// In memory only: eight bytes at a time, then a final mix (high bits tag, low bits index).
    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(bytes.count)
        guard var p = bytes.baseAddress else { return h }
        var n = bytes.count
        while n >= 8 {
            h = (h ^ p.loadUnaligned(as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
            p += 8
            n -= 8
        }
        if n > 0 {
            var tail: UInt64 = 0
            for k in 0..<n { tail |= UInt64(p.load(fromByteOffset: k, as: UInt8.self)) << (8 * UInt64(k)) }
            h = (h ^ tail) &* 0xBF58_476D_1CE4_E5B9
        }
        h = (h ^ (h >> 33)) &* 0xFF51_AFD7_ED55_8CCD
        return h ^ (h >> 33)
    }

    /// The index of the account named `name`, or nil.
    public func index(of name: UnsafeRawBufferPointer) -> Int? {
        let h = Self.hash(name)
        let tag = h >> 32
        let mask = slots.count / 4 - 1
        var i = Int(truncatingIfNeeded: h) & mask
        return slots.withUnsafeBytes { table in
            while true {
                let slot = table.baseAddress! + i * 32
                let s = slot.load(as: UInt64.self)
                if s == 0 { return nil }
                if s >> 32 == tag {
                    let k = Int(truncatingIfNeeded: s & 0xFFFF_FFFF) - 1
                    if name.count <= Self.inlineNameBytes {
                        if Int(slot.load(fromByteOffset: 8, as: UInt8.self)) == name.count
                            && (name.count == 0 || Self.equal(slot + 9, name.baseAddress!, name.count)) { return k }
                    } else if matchesStoredName(k, name) {
                        return k
                    }
                }
                i = (i + 1) & mask
            }
        }
    }

    /// Whether account `k`'s name (kept in `names`) is `name`.
    private func matchesStoredName(_ k: Int, _ name: UnsafeRawBufferPointer) -> Bool {
        let start = nameStart[k], count = nameStart[k + 1] - start
        return count == name.count && names.withUnsafeBytes { Self.equal($0.baseAddress! + start, name.baseAddress!, count) }
    }

    /// Whether `count` bytes at `a` and `b` are equal (names are short: no call to memcmp).
    @inline(__always)
    static func equal(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
        var k = 0
        while k + 8 <= count {
            if a.loadUnaligned(fromByteOffset: k, as: UInt64.self) != b.loadUnaligned(fromByteOffset: k, as: UInt64.self) { return false }
            k += 8
        }
        while k < count {
            if a.load(fromByteOffset: k, as: UInt8.self) != b.load(fromByteOffset: k, as: UInt8.self) { return false }
            k += 1
        }
        return true
    }

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
        if (accounts.count + 1) * 2 > slots.count / 4 { grow() }
        names += account.id.name.utf8
        nameStart.append(names.count)
        accounts.append(account)
        place(accounts.count - 1)
        return accounts.count - 1
    }

    private mutating func place(_ k: Int) {
        let start = nameStart[k], count = nameStart[k + 1] - start
        names.withUnsafeBytes { all in
            let name = UnsafeRawBufferPointer(rebasing: all[start..<(start + count)])
            let h = Self.hash(name)
            let mask = slots.count / 4 - 1
            var i = Int(truncatingIfNeeded: h) & mask
            slots.withUnsafeMutableBytes { table in
                while table.load(fromByteOffset: i * 32, as: UInt64.self) != 0 { i = (i + 1) & mask }
                let slot = table.baseAddress! + i * 32
                slot.storeBytes(of: (h >> 32) << 32 | UInt64(k + 1), as: UInt64.self)
                if count <= Self.inlineNameBytes {
                    slot.storeBytes(of: UInt8(count), toByteOffset: 8, as: UInt8.self)
                    if count > 0 { (slot + 9).copyMemory(from: name.baseAddress!, byteCount: count) }
                } else {
                    // No inline length can match it (an empty name's 0 included).
                    slot.storeBytes(of: UInt8.max, toByteOffset: 8, as: UInt8.self)
                }
            }
        }
    }

    private mutating func grow() {
        slots = [UInt64](repeating: 0, count: slots.count * 2)
        for k in 0..<accounts.count { place(k) }
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
