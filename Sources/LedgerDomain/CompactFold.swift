import CLedgerAccel
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// The fold on the hot paths (replay, as-of): reads payload bytes in place and finds
// accounts by the numbers events carry (or, for events written before numbers and for
// a fold that tracks only some accounts, through a byte-keyed hash table of names), so
// folding an event allocates nothing and creates no String. Agrees with
// EventCodec.decode + LedgerState.apply (tested).

/// The fields of an event as byte ranges into its payload; valid only while the payload is.
public struct RawEvent {
    public var type: EventCodec.TypeCode
    public var account: UnsafeRawBufferPointer
    public var other: UnsafeRawBufferPointer?
    /// The numbers of `account` and `other` (-1: not written, a v1 event, or no such side).
    public var accountNumber: Int32 = -1
    public var otherNumber: Int32 = -1
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
        let numbered = carriesNumbers(code, version: version)
        /// One side: its number (when the layout has one) and its name.
        @inline(__always)
        func side(_ r: inout ByteReader) throws -> (Int32, UnsafeRawBufferPointer) {
            var number: Int32 = -1
            if numbered {
                let n = try r.u32()
                if n <= UInt32(Int32.max) { number = Int32(n) }
            }
            return (number, try r.stringBytes())
        }
        if code == .moneyReversed {
            // Shaped like a transfer whose sides may be missing: `account` is the debited side.
            let reverses = try r.u64()
            let sides = try r.u8()
            var e = RawEvent(type: code, account: UnsafeRawBufferPointer(start: nil, count: 0))
            if sides & 1 != 0 { (e.accountNumber, e.account) = try side(&r) }
            if sides & 2 != 0 {
                let (number, name) = try side(&r)
                e.otherNumber = number
                e.other = name
            }
            e.amount = try r.i64()
            e.reverses = reverses
            if try r.u8() & 1 != 0 { e.id = try r.stringBytes() }
            return e
        }
        var e: RawEvent
        if code == .accountOpened {
            e = RawEvent(type: code, account: try r.stringBytes())
            e.currency = try r.stringBytes()
            e.scale = Int(try r.u8())
            if version >= 2 { e.overdraft = try r.i64() }
        } else {
            let (number, name) = try side(&r)
            e = RawEvent(type: code, account: name)
            e.accountNumber = number
            switch code {
            case .moneyDeposited, .moneyWithdrawn: e.amount = try r.i64()
            case .moneyTransferred:
                let (number, name) = try side(&r)
                e.otherNumber = number
                e.other = name
                e.amount = try r.i64()
            default: break
            }
        }
        let flags = try r.u8()
        if flags & 1 != 0 { e.id = try r.stringBytes() }
        return e
    }
}

extension EventCodec {
    /// The account numbers an event carries (-1: none), read from their fixed places in the v2
    /// layouts without checking the rest of the payload: for prefetching what the event will
    /// touch, never for folding it.
    @inline(__always)
    public static func peekNumbers(type: UInt16, version: UInt16, payload p: UnsafeRawBufferPointer) -> (Int32, Int32) {
        guard version == 2, type >= TypeCode.accountClosed.rawValue, type <= TypeCode.moneyTransferred.rawValue,
              p.count >= 6 else { return (-1, -1) }
        let first = Int32(truncatingIfNeeded: p.loadUnaligned(fromByteOffset: 0, as: UInt32.self).littleEndian)
        guard type == TypeCode.moneyTransferred.rawValue else { return (first, -1) }
        // number, name (u16 length, bytes), then the other side's number.
        let at = 6 + Int(p.loadUnaligned(fromByteOffset: 4, as: UInt16.self).littleEndian)
        guard at + 4 <= p.count else { return (first, -1) }
        return (first, Int32(truncatingIfNeeded: p.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian))
    }
}

/// Every account's state, addressed by name bytes.
public struct CompactState {
    /// What events change of an account, kept apart from its name and currency: the fold's
    /// working set is 32 bytes an account, two to a cache line and never across two (10 k
    /// accounts: 320 KB, inside a core's L2 cache; a whole Account is 88 bytes and holds Strings).
    @usableFromInline
    struct Moving {
        var balance: Int64
        var version: UInt64
        var lastPosition: UInt64
        /// Moving.nameHash of its name: an event's number is used only when the name beside it
        /// has this hash (a log whose numbers disagree with its names still folds by name).
        let nameHash: UInt32
        var closed: Bool

        /// A 32-bit hash of a name, in memory only. A name of 8 to 16 bytes (most are) is read
        /// as two words, the second overlapping the first, each multiplied apart (a replay hashes
        /// every event's names: the longer mix of NameIndex.hash, which a longer or shorter name
        /// gets, cost 3 of a replay's 49 ms of CPU on 1 M events).
        @inlinable @inline(__always)
        static func nameHash(_ name: UnsafeRawBufferPointer) -> UInt32 {
            let n = name.count
            guard n >= 8, n <= 16, let p = name.baseAddress else {
                let h = NameIndex.hash(name)
                return UInt32(truncatingIfNeeded: h ^ (h >> 32))
            }
            let a = p.loadUnaligned(as: UInt64.self), b = (p + n - 8).loadUnaligned(as: UInt64.self)
            // Byte-swapped, the second word's product keeps a name of 8 bytes (two equal words)
            // from losing its top bit, which a product only carries upwards.
            let h = (a &* 0x9E37_79B9_7F4A_7C15) ^ (b &* 0xC2B2_AE3D_27D4_EB4F).byteSwapped ^ UInt64(n)
            return UInt32(truncatingIfNeeded: h ^ (h >> 32))
        }
    }
    /// Account i's identity (name, currency, scale, overdraft, opening); its balance, version,
    /// status and last position are `moving[i]`'s.
    private var identities: [Account] = []
    private var moving: [Moving] = []
    /// Account i's name is name number i.
    private var names = NameIndex()
    public private(set) var position: UInt64 = 0
    /// Whether account i is the account numbered i (the state was folded from the first
    /// event, so accounts were added in the order they were opened): events' numbers are
    /// then used instead of looking names up.
    public let numbered: Bool

    /// The state before the first event: every account the fold adds is numbered by its place.
    public init() { numbered = true }

    /// The state before the first event, with room for `accounts` accounts (a fold that knows
    /// about how many it will meet: growing the tables as accounts open copies and rehashes
    /// them, most of what an opening costs).
    public init(reservingCapacity accounts: Int) {
        numbered = true
        guard accounts > 0 else { return }
        names = NameIndex(minimumCapacity: accounts)
        identities.reserveCapacity(accounts)
        moving.reserveCapacity(accounts)
    }

    /// A state from some accounts (a snapshot's, or only those a query wants): events' accounts
    /// are found by name.
    public init(_ accounts: [Account], position: UInt64) {
        numbered = false
        names = NameIndex(minimumCapacity: accounts.count)
        identities.reserveCapacity(accounts.count)
        moving.reserveCapacity(accounts.count)
        for a in accounts { _ = insert(a) }
        self.position = position
    }

    /// Every account, in the order they were added (a copy: `forEachAccount` makes none).
    public var accounts: [Account] {
        (0..<identities.count).map { account(at: $0) }
    }

    /// Calls `body` with each account's index and state, in the order they were added.
    public func forEachAccount(_ body: (Int, Account) throws -> Void) rethrows {
        for i in 0..<identities.count { try body(i, account(at: i)) }
    }

    public var count: Int { identities.count }

    /// Calls `body` with each account's index, name, last position and state as StateCodec
    /// encodes it (the index its number when the state is numbered), in the order they were
    /// added, building no Account or String (the bytes are valid only during the call).
    public func forEachEncodedAccount(_ body: (Int, UnsafeRawBufferPointer, UInt64, UnsafeRawBufferPointer) throws -> Void) throws {
        try withUnsafeTemporaryAllocation(byteCount: StateCodec.accountBytes, alignment: 8) { value in
            for i in 0..<identities.count {
                let m = moving[i]
                StateCodec.encode(identity: identities[i], balance: m.balance, version: m.version, status: m.closed ? .closed : .open,
                                  lastPosition: m.lastPosition, number: numbered ? UInt32(i) : nil, into: value.baseAddress!)
                try names.withName(i) { name in try body(i, name, m.lastPosition, UnsafeRawBufferPointer(value)) }
            }
        }
    }

    private func account(at i: Int) -> Account {
        var a = identities[i]
        let m = moving[i]
        a.balance = m.balance
        a.version = m.version
        a.lastPosition = m.lastPosition
        a.status = m.closed ? .closed : .open
        return a
    }

    /// The index of the account named `name`, or nil.
    @inline(__always)
    public func index(of name: UnsafeRawBufferPointer) -> Int? { names.index(of: name) }

    /// The index of the account an event gives as `number` and `name`: the number itself when
    /// the state is numbered and that account's name has the same hash, else found by name (a
    /// number that disagrees with its name, which a sound log never has, costs a lookup, not
    /// a wrong balance; `ledger verify` reports it).
    @inline(__always)
    func index(_ number: Int32, _ name: UnsafeRawBufferPointer) -> Int? {
        if numbered && number >= 0 && Int(number) < moving.count {
            let matches = moving.withUnsafeBufferPointer { $0[Int(number)].nameHash == Moving.nameHash(name) }
            if matches { return Int(number) }
        }
        return index(of: name)
    }

    /// Starts loading what folding a record will touch: the accounts numbered in its payload.
    /// A fold over many accounts misses the cache on nearly every event otherwise; a reader
    /// calls this a few records ahead of the one it folds. (Declared mutating, though it changes
    /// nothing, so that a closure holding the state calls it in place instead of on a copy:
    /// four retains and releases a call.)
    @inline(__always)
    public mutating func prefetch(type: UInt16, version: UInt16, payload: UnsafeRawBufferPointer) {
        guard numbered else { return }
        let (a, b) = EventCodec.peekNumbers(type: type, version: version, payload: payload)
        moving.withUnsafeBufferPointer { all in
            if a >= 0 && Int(a) < all.count { ledger_prefetch_for_write(all.baseAddress! + Int(a)) }
            if b >= 0 && Int(b) < all.count { ledger_prefetch_for_write(all.baseAddress! + Int(b)) }
        }
    }

    /// Account `i`'s balance, version and whether it is closed, read without copying the account.
    public func summary(of i: Int) -> (balance: Int64, version: UInt64, closed: Bool) {
        moving.withUnsafeBufferPointer {
            let m = $0.baseAddress! + i
            return (m.pointee.balance, m.pointee.version, m.pointee.closed)
        }
    }

    public func account(named name: String) -> Account? {
        var copy = name
        return copy.withUTF8 { index(of: UnsafeRawBufferPointer($0)) }.map { account(at: $0) }
    }

    private mutating func insert(_ account: Account) -> Int {
        var name = account.id.name
        let hash = name.withUTF8 { bytes in
            names.add(UnsafeRawBufferPointer(bytes))
            return Moving.nameHash(UnsafeRawBufferPointer(bytes))
        }
        identities.append(account)
        moving.append(Moving(balance: account.balance, version: account.version, lastPosition: account.lastPosition,
                             nameHash: hash, closed: account.status == .closed))
        return identities.count - 1
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
        let i = e.account.isEmpty ? nil : index(e.accountNumber, e.account)
        let j = e.type == .moneyTransferred || e.type == .moneyReversed ? e.other.flatMap { index(e.otherNumber, $0) } : nil
        change(e.type, i ?? -1, j ?? -1, amount: e.amount, at: position)
        return Touched(account: i ?? -1, other: j ?? -1)
    }

    /// What an event other than an opening does to its accounts: `i` is its account (a
    /// transfer's FROM), `j` a transfer's TO (-1: none, or not tracked).
    @inline(__always)
    private mutating func change(_ type: EventCodec.TypeCode, _ i: Int, _ j: Int, amount: Int64, at position: UInt64) {
        // Through the buffer: the array's subscript would check uniqueness on every write.
        moving.withUnsafeMutableBufferPointer { all in
            if i >= 0 {
                let a = all.baseAddress! + i
                switch type {
                case .accountClosed: a.pointee.closed = true
                case .moneyDeposited: a.pointee.balance = a.pointee.balance &+ amount
                case .moneyWithdrawn, .moneyTransferred, .moneyReversed: a.pointee.balance = a.pointee.balance &- amount
                case .accountOpened: break
                }
                a.pointee.version += 1
                a.pointee.lastPosition = position
            }
            if j >= 0 {
                let b = all.baseAddress! + j
                b.pointee.balance = b.pointee.balance &+ amount
                b.pointee.version += 1
                b.pointee.lastPosition = position
            }
        }
    }

    /// Folds one record: `scan` then `apply`, except for the events nearly every record is
    /// (a deposit, withdrawal or transfer in today's layout, in a numbered state, its numbers
    /// agreeing with its names), which are folded from their `MoneyDigest`. Any other record,
    /// or one whose bytes are not as expected, goes the general way, so the result and the
    /// errors are the same (tested).
    public mutating func fold(type: UInt16, version: UInt16, payload: UnsafeRawBufferPointer, at position: UInt64) throws -> Touched {
        let digest = MoneyDigest(type: type, version: version, payload: payload)
        if fold(digest, at: position) { return Touched(account: Int(digest.account), other: Int(digest.other)) }
        return apply(try EventCodec.scan(type: type, version: version, payload: payload), at: position)
    }

    /// Folds a money event from its digest, or returns false (changing nothing) when the record
    /// must go the general way: not a money event in the in-place layout, a state that is not
    /// numbered, or a number that is not an account here or whose name's hash differs.
    @inline(__always)
    public mutating func fold(_ d: MoneyDigest, at position: UInt64) -> Bool {
        var digest = d
        return withUnsafePointer(to: &digest) { fold(UnsafeBufferPointer(start: $0, count: 1), firstPosition: position) } == 1
    }

    /// The accounts' moving parts in place, for a loop over many events: one uniqueness check
    /// for the loop instead of one an event. `body` must not add accounts.
    @inline(__always)
    mutating func withMovingBalances<T>(_ body: (Balances) -> T) -> T {
        moving.withUnsafeMutableBufferPointer { body(Balances(base: $0.baseAddress, count: $0.count)) }
    }

    /// See `withMovingBalances`.
    struct Balances {
        let base: UnsafeMutablePointer<Moving>?
        let count: Int
        /// How many digests ahead of the one folded its accounts are loaded.
        static var prefetchAhead: Int { 8 }

        /// `CompactState.fold(_:firstPosition:)` on these accounts: each digest checked against
        /// its accounts and added, the accounts a few digests ahead loaded meanwhile.
        @inline(__always)
        func fold(_ digests: UnsafeBufferPointer<MoneyDigest>, firstPosition: UInt64) -> Int {
            guard let base, let d0 = digests.baseAddress else { return 0 }
            let n = digests.count
            @inline(__always) func prefetch(_ d: MoneyDigest) {
                if d.account >= 0 && Int(d.account) < count { ledger_prefetch_for_write(base + Int(d.account)) }
                if d.other >= 0 && Int(d.other) < count { ledger_prefetch_for_write(base + Int(d.other)) }
            }
            let ahead = Self.prefetchAhead
            for k in 0..<min(ahead, n) { prefetch(d0[k]) }
            var k = 0
            while k < n {
                let d = d0[k]
                guard d.account >= 0, Int(d.account) < count, base[Int(d.account)].nameHash == d.accountHash,
                      d.other < 0 || Int(d.other) < count && base[Int(d.other)].nameHash == d.otherHash else { break }
                if k + ahead < n { prefetch(d0[k + ahead]) }
                let position = firstPosition + UInt64(k)
                let a = base + Int(d.account)
                a.pointee.balance = a.pointee.balance &+ d.delta
                a.pointee.version += 1
                a.pointee.lastPosition = position
                if d.other >= 0 {
                    let b = base + Int(d.other)
                    b.pointee.balance = b.pointee.balance &- d.delta
                    b.pointee.version += 1
                    b.pointee.lastPosition = position
                }
                k += 1
            }
            return k
        }

        /// Adds a part's sums for account `i` (see PartFold).
        func add(_ delta: Int64, events: UInt64, last: UInt64, to i: Int) {
            let a = base! + i
            a.pointee.balance = a.pointee.balance &+ delta
            a.pointee.version += events
            a.pointee.lastPosition = max(a.pointee.lastPosition, last)
        }
    }

    /// Account `i`'s name hash (as a digest gives it).
    func nameHash(of i: Int) -> UInt32 { moving.withUnsafeBufferPointer { $0[i].nameHash } }

    mutating func setPosition(_ p: UInt64) { position = p }

    /// The one layout a `MoneyDigest` is read from: a later version of a money event goes
    /// through scan (which must learn it) until the digest is taught it too.
    @usableFromInline static var moneyInPlaceVersion: UInt16 { 2 }

}

/// What folding a money event changes, read from its payload alone (no state): a thread ahead
/// of the fold makes these, so that the fold only checks the numbers against its accounts and
/// adds. `account` < 0 marks a record the fold reads the general way.
public struct MoneyDigest: Sendable, BitwiseCopyable {
    /// Added to `account`'s balance (a deposit's amount; minus a withdrawal's or a transfer's);
    /// `other`, a transfer's TO, gets minus this.
    public var delta: Int64 = 0
    /// The accounts' numbers as the event gives them (-1: none).
    public var account: Int32 = -1
    public var other: Int32 = -1
    /// CompactState's hash of each side's name, checked against the numbered account's.
    public var accountHash: UInt32 = 0
    public var otherHash: UInt32 = 0

    /// The digest of a deposit, withdrawal or transfer in the in-place layout (v2: each side a
    /// u32 number and a u16-length name, then the i64 amount, a u8 flags and, with flag 1, a
    /// u16-length id); for any other record, or when a field runs past the payload, a digest
    /// with `account` -1 (the record goes the general way).
    /// Inlinable, with what it uses: it is made for every record a replay reads, in a loop of
    /// the engine's (a call each cost the register saves of a function this size).
    @inlinable @inline(__always)
    public init(type: UInt16, version: UInt16, payload p: UnsafeRawBufferPointer) {
        let code: EventCodec.TypeCode = type == EventCodec.TypeCode.moneyDeposited.rawValue ? .moneyDeposited
            : type == EventCodec.TypeCode.moneyWithdrawn.rawValue ? .moneyWithdrawn : .moneyTransferred
        guard type == code.rawValue, version == CompactState.moneyInPlaceVersion, version <= EventCodec.currentVersion(code) else { return }
        var at = 0
        @inline(__always)
        func side() -> (Int32, UInt32)? {
            guard p.count - at >= 6 else { return nil }
            let number = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: at, as: UInt32.self))
            let length = Int(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: at + 4, as: UInt16.self)))
            guard length > 0, p.count - at - 6 >= length, number <= UInt32(Int32.max) else { return nil }
            let name = UnsafeRawBufferPointer(rebasing: p[(at + 6)..<(at + 6 + length)])
            at += 6 + length
            return (Int32(number), CompactState.Moving.nameHash(name))
        }
        guard let (account, accountHash) = side() else { return }
        var other: Int32 = -1, otherHash: UInt32 = 0
        if code == .moneyTransferred {
            guard let (number, hash) = side() else { return }
            (other, otherHash) = (number, hash)
        }
        // amount, flags, then the id when flag 1 says there is one.
        guard p.count - at >= 9 else { return }
        let amount = Int64(littleEndian: p.loadUnaligned(fromByteOffset: at, as: Int64.self))
        if p[at + 8] & 1 != 0 {
            guard p.count - at >= 11 else { return }
            let length = Int(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: at + 9, as: UInt16.self)))
            guard p.count - at - 11 >= length else { return }
        }
        self.delta = code == .moneyDeposited ? amount : 0 &- amount
        self.account = account
        self.other = other
        self.accountHash = accountHash
        self.otherHash = otherHash
    }
}
