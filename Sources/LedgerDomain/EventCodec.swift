#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// The binary payload of each event type, and the only place that knows type
// codes and schema versions. Decoding an older version goes through Upcasters.
//
// Layouts (current versions), all little-endian; str = u16 length + UTF-8 bytes;
// acct = u32 account number + str name. An account's number is its place in the order
// accounts were opened (the first AccountOpened is 0): the fold finds an account by
// it without hashing the name; the name stays, so every event reads alone.
//   1 AccountOpened    v2: str account, str currency, u8 scale, i64 overdraft, metadata
//   2 AccountClosed    v2: acct account, metadata
//   3 MoneyDeposited   v2: acct account, i64 amount, metadata
//   4 MoneyWithdrawn   v2: acct account, i64 amount, metadata
//   5 MoneyTransferred v2: acct from, acct to, i64 amount, metadata
//   6 MoneyReversed    v2: u64 reverses, u8 sides (bit 0 from, bit 1 to), acct from?, acct to?, i64 amount, metadata
//   metadata := u8 flags (bit 0 id, 1 memo, 2 correlation, 3 causation), then each present str
// Older versions (and how they are read) are in Upcasters.swift.

public enum EventCodec {
    public enum TypeCode: UInt16, CaseIterable, Sendable {
        case accountOpened = 1
        case accountClosed = 2
        case moneyDeposited = 3
        case moneyWithdrawn = 4
        case moneyTransferred = 5
        case moneyReversed = 6
    }

    /// The schema version each type is written with today.
    @inlinable public static func currentVersion(_ type: TypeCode) -> UInt16 { 2 }

    /// Whether events of `type` at schema `version` carry account numbers (all but AccountOpened, from v2).
    @inline(__always)
    public static func carriesNumbers(_ type: TypeCode, version: UInt16) -> Bool {
        version >= 2 && type != .accountOpened
    }

    /// An account's number for the encoder: its place in the order accounts were opened.
    public typealias AccountNumbers = (AccountID) -> UInt32

    public static func typeCode(_ body: EventBody) -> TypeCode {
        switch body {
        case .accountOpened: return .accountOpened
        case .accountClosed: return .accountClosed
        case .moneyDeposited: return .moneyDeposited
        case .moneyWithdrawn: return .moneyWithdrawn
        case .moneyTransferred: return .moneyTransferred
        case .moneyReversed: return .moneyReversed
        }
    }

    // MARK: Encoding

    public static func encode(_ event: Event, numbers: AccountNumbers) -> (type: UInt16, version: UInt16, payload: [UInt8]) {
        var w = ByteWriter()
        let (type, version) = encode(event, numbers: numbers, into: &w)
        return (type, version, w.bytes)
    }

    /// Appends the payload of `event` to `w` (a reused writer allocates nothing per event);
    /// `numbers` gives the number of each account it names (an AccountOpened needs none).
    public static func encode(_ event: Event, numbers: AccountNumbers, into w: inout ByteWriter) -> (type: UInt16, version: UInt16) {
        let code = typeCode(event.body)
        switch event.body {
        case .accountOpened(let a, let c, let scale, let overdraft):
            w.string(a.name); w.string(c.code); w.u8(UInt8(scale)); w.i64(overdraft)
        case .accountClosed(let a):
            w.account(numbers(a), a.name)
        case .moneyDeposited(let a, let amount), .moneyWithdrawn(let a, let amount):
            return encodeMoney(code, (a, numbers(a)), nil, amount: amount, metadata: event.metadata, into: &w)
        case .moneyTransferred(let from, let to, let amount):
            return encodeMoney(code, (from, numbers(from)), (to, numbers(to)), amount: amount, metadata: event.metadata, into: &w)
        case .moneyReversed(let reverses, let from, let to, let amount):
            w.u64(reverses)
            w.u8((from == nil ? 0 : 1) | (to == nil ? 0 : 2))
            if let from { w.account(numbers(from), from.name) }
            if let to { w.account(numbers(to), to.name) }
            w.i64(amount)
        }
        encodeMetadata(event.metadata, &w)
        return (code.rawValue, currentVersion(code))
    }

    /// The payload of a deposit or withdrawal (`second` nil) or a transfer (`first` → `second`),
    /// from its parts: the one place their layout is written (`encode` of such an event calls it;
    /// an import calls it without building the Event). `metadata` appends the metadata.
    public static func encodeMoney(_ code: TypeCode, _ first: (id: AccountID, number: UInt32), _ second: (id: AccountID, number: UInt32)?,
                                   amount: Int64, into w: inout ByteWriter, metadata: (inout ByteWriter) -> Void) -> (type: UInt16, version: UInt16) {
        precondition(code == .moneyDeposited || code == .moneyWithdrawn || code == .moneyTransferred)
        precondition((second != nil) == (code == .moneyTransferred))
        w.account(first.number, first.id.name)
        if let second { w.account(second.number, second.id.name) }
        w.i64(amount)
        metadata(&w)
        return (code.rawValue, currentVersion(code))
    }

    public static func encodeMoney(_ code: TypeCode, _ first: (id: AccountID, number: UInt32), _ second: (id: AccountID, number: UInt32)?,
                                   amount: Int64, metadata: EventMetadata, into w: inout ByteWriter) -> (type: UInt16, version: UInt16) {
        encodeMoney(code, first, second, amount: amount, into: &w) { encodeMetadata(metadata, &$0) }
    }

    /// Metadata: a flags byte (bit 0 id, 1 memo, 2 correlation id, 3 causation id), then each
    /// text present, in that order.
    static func encodeMetadata(_ m: EventMetadata, _ w: inout ByteWriter) {
        w.u8(metadataFlags(id: m.id != nil, memo: m.memo != nil, correlationID: m.correlationID != nil, causationID: m.causationID != nil))
        if let f = m.id { w.string(f) }
        if let f = m.memo { w.string(f) }
        if let f = m.correlationID { w.string(f) }
        if let f = m.causationID { w.string(f) }
    }

    /// The same layout for metadata with only an id and a memo, given as UTF-8 bytes (an
    /// import line's, without making Strings).
    public static func encodeMetadata(id: UnsafeRawBufferPointer?, memo: UnsafeRawBufferPointer?, into w: inout ByteWriter) {
        w.u8(metadataFlags(id: id != nil, memo: memo != nil, correlationID: false, causationID: false))
        if let id { w.text(id) }
        if let memo { w.text(memo) }
    }

    private static func metadataFlags(id: Bool, memo: Bool, correlationID: Bool, causationID: Bool) -> UInt8 {
        (id ? 1 : 0) | (memo ? 2 : 0) | (correlationID ? 4 : 0) | (causationID ? 8 : 0)
    }

    // MARK: Decoding

    /// Decodes any known version of any known type, upcasting old versions to the current shape.
    public static func decode(type: UInt16, version: UInt16, payload: UnsafeRawBufferPointer) throws -> Event {
        guard let code = TypeCode(rawValue: type) else {
            throw DomainError.undecodable("unknown event type \(type)")
        }
        let current = currentVersion(code)
        guard version >= 1 && version <= current else {
            throw DomainError.undecodable("event type \(type) has schema version \(version); this ledger reads up to \(current)")
        }
        var r = ByteReader(payload)
        let event: Event
        if version < current {
            event = try Upcasters.decode(code, version: version, &r)
        } else {
            event = try decodeCurrent(code, &r)
        }
        guard r.atEnd else { throw DomainError.undecodable("event type \(type) v\(version) has \(r.remaining) trailing bytes") }
        return event
    }

    public static func decode(type: UInt16, version: UInt16, payload: [UInt8]) throws -> Event {
        try payload.withUnsafeBytes { try decode(type: type, version: version, payload: $0) }
    }

    static func decodeCurrent(_ code: TypeCode, _ r: inout ByteReader) throws -> Event {
        try decodeBody(code, &r) { r in
            _ = try r.u32()
            return AccountID(trusted: try r.string())
        }
    }

    /// The body and metadata of the layouts that differ only in how an account is written
    /// (v2: number and name; v1: the name, read by Upcasters through this too).
    static func decodeBody(_ code: TypeCode, _ r: inout ByteReader, account: (inout ByteReader) throws -> AccountID) throws -> Event {
        let body: EventBody
        switch code {
        case .accountOpened:
            let a = AccountID(trusted: try r.string()), c = Currency(trusted: try r.string())
            let scale = Int(try r.u8())
            body = .accountOpened(account: a, currency: c, scale: scale, overdraft: try r.i64())
        case .accountClosed:
            body = .accountClosed(account: try account(&r))
        case .moneyDeposited:
            let a = try account(&r)
            body = .moneyDeposited(account: a, amount: try r.i64())
        case .moneyWithdrawn:
            let a = try account(&r)
            body = .moneyWithdrawn(account: a, amount: try r.i64())
        case .moneyTransferred:
            let from = try account(&r), to = try account(&r)
            body = .moneyTransferred(from: from, to: to, amount: try r.i64())
        case .moneyReversed:
            let reverses = try r.u64()
            let sides = try r.u8()
            guard sides & 0xFC == 0, sides != 0 else { throw DomainError.undecodable("bad reversal sides \(sides)") }
            let from = sides & 1 != 0 ? try account(&r) : nil
            let to = sides & 2 != 0 ? try account(&r) : nil
            body = .moneyReversed(reverses: reverses, from: from, to: to, amount: try r.i64())
        }
        return Event(body, metadata: try decodeMetadata(&r))
    }

    static func decodeMetadata(_ r: inout ByteReader) throws -> EventMetadata {
        let flags = try r.u8()
        guard flags & 0xF0 == 0 else { throw DomainError.undecodable("unknown metadata flags \(flags)") }
        var m = EventMetadata()
        if flags & 1 != 0 { m.id = try r.string() }
        if flags & 2 != 0 { m.memo = try r.string() }
        if flags & 4 != 0 { m.correlationID = try r.string() }
        if flags & 8 != 0 { m.causationID = try r.string() }
        return m
    }

    /// Whether an encoded event touches an account named by one of `names`, without decoding or allocating.
    public static func touches(type: UInt16, version: UInt16, payload: UnsafeRawBufferPointer, anyOf names: [[UInt8]]) -> Bool {
        func named(_ side: UnsafeRawBufferPointer) -> Bool {
            names.contains { n in n.count == side.count && n.withUnsafeBytes { memcmp($0.baseAddress!, side.baseAddress!, n.count) == 0 } }
        }
        var r = ByteReader(payload)
        guard let code = TypeCode(rawValue: type) else { return false }
        var sides = 1
        if code == .moneyReversed {
            guard (try? r.u64()) != nil, let flags = try? r.u8() else { return false }
            sides = flags.nonzeroBitCount
        } else if code == .moneyTransferred {
            sides = 2
        }
        let numbered = carriesNumbers(code, version: version)
        for _ in 0..<sides {
            if numbered { guard (try? r.u32()) != nil else { return false } }
            guard let side = try? r.stringBytes() else { return false }
            if named(side) { return true }
        }
        return false
    }

}

/// Appends little-endian fields to a byte buffer. Written in place: the storage is kept
/// initialised past `count` and a field is one bounds check and a store (an
/// `[UInt8].append(contentsOf:)` costs ~9 ns a call, and an event has a dozen fields).
public struct ByteWriter {
    private var storage = [UInt8](repeating: 0, count: 128)
    /// How many bytes have been written.
    public private(set) var count = 0

    public init() {}

    /// The bytes written (a copy).
    public var bytes: [UInt8] { Array(storage[0..<count]) }

    /// Calls `body` with the bytes written, valid only inside it.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try storage.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
    }

    @inline(__always)
    private mutating func reserve(_ n: Int) {
        if storage.count - count < n { grow(count + n) }
    }

    @inline(never)
    private mutating func grow(_ needed: Int) {
        var size = storage.count
        while size < needed { size *= 2 }
        storage.append(contentsOf: repeatElement(0, count: size - storage.count))
    }

    @inline(__always)
    private mutating func put<T: FixedWidthInteger>(_ v: T) {
        reserve(MemoryLayout<T>.size)
        let at = count
        storage.withUnsafeMutableBytes { $0.storeBytes(of: v.littleEndian, toByteOffset: at, as: T.self) }
        count += MemoryLayout<T>.size
    }

    // Inlined where they are called: a call for each few bytes of an event was ~5 % of an
    // import's validating thread.
    @inline(__always) public mutating func u8(_ v: UInt8) { put(v) }
    @inline(__always) public mutating func u16(_ v: UInt16) { put(v) }
    @inline(__always) public mutating func u32(_ v: UInt32) { put(v) }
    @inline(__always) public mutating func u64(_ v: UInt64) { put(v) }
    @inline(__always) public mutating func i64(_ v: Int64) { put(v) }
    public mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { text(UnsafeRawBufferPointer($0)) }
    }
    /// A string's layout (u16 length, bytes) for text given as UTF-8 bytes.
    @inline(__always)
    public mutating func text(_ utf8: UnsafeRawBufferPointer) {
        text(utf8, after: nil)
    }
    /// An account as current layouts write it: its number, then its name.
    public mutating func account(_ number: UInt32, _ name: String) {
        var name = name
        name.withUTF8 { text(UnsafeRawBufferPointer($0), after: number) }
    }

    /// `prefix` (if any), the u16 length and the bytes, in one reservation and one write to the
    /// storage (each write checks the storage is not shared: three writes an account were
    /// ≈ 160 instructions, callgrind).
    @inline(__always)
    private mutating func text(_ utf8: UnsafeRawBufferPointer, after prefix: UInt32?) {
        precondition(utf8.count <= Int(UInt16.max))
        let head = prefix == nil ? 2 : 6
        reserve(head + utf8.count)
        let at = count
        storage.withUnsafeMutableBytes { raw in
            if let prefix { raw.storeBytes(of: prefix.littleEndian, toByteOffset: at, as: UInt32.self) }
            raw.storeBytes(of: UInt16(utf8.count).littleEndian, toByteOffset: at + head - 2, as: UInt16.self)
            if let source = utf8.baseAddress, utf8.count > 0 {
                (raw.baseAddress! + at + head).copyMemory(from: source, byteCount: utf8.count)
            }
        }
        count += head + utf8.count
    }
    /// Empties the buffer, keeping its capacity (a writer reused for many events).
    public mutating func reset() { count = 0 }
}

/// Reads little-endian fields, throwing (never trapping) on short or bad input.
public struct ByteReader {
    let buffer: UnsafeRawBufferPointer
    var offset = 0

    public init(_ buffer: UnsafeRawBufferPointer) { self.buffer = buffer }

    public var atEnd: Bool { offset == buffer.count }
    public var remaining: Int { buffer.count - offset }

    /// The check inlines; building the error does not (hot loops decode millions of fields).
    @inline(__always)
    mutating func need(_ n: Int) throws {
        if buffer.count - offset < n { try endsEarly() }
    }

    @inline(never)
    private func endsEarly() throws -> Never {
        throw DomainError.undecodable("payload ends early at byte \(offset)")
    }

    @inline(__always)
    public mutating func u8() throws -> UInt8 {
        try need(1)
        defer { offset += 1 }
        return buffer[offset]
    }

    @inline(__always)
    public mutating func u16() throws -> UInt16 {
        try need(2)
        defer { offset += 2 }
        return UInt16(buffer[offset]) | UInt16(buffer[offset + 1]) << 8
    }

    @inline(__always)
    public mutating func u32() throws -> UInt32 {
        try need(4)
        defer { offset += 4 }
        return UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inline(__always)
    public mutating func u64() throws -> UInt64 {
        try need(8)
        defer { offset += 8 }
        return UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    public mutating func i64() throws -> Int64 { Int64(bitPattern: try u64()) }

    @inline(__always)
    public mutating func stringBytes() throws -> UnsafeRawBufferPointer {
        let n = Int(try u16())
        try need(n)
        defer { offset += n }
        return UnsafeRawBufferPointer(rebasing: buffer[offset..<(offset + n)])
    }

    public mutating func string() throws -> String {
        let bytes = try stringBytes()
        // ASCII (names, ids, codes: nearly every string) needs no validation; the generic
        // validating initializer looked its metadata up at run time on every call.
        if bytes.allSatisfy({ $0 < 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
        guard let s = String(validating: bytes, as: UTF8.self) else { throw DomainError.undecodable("string is not UTF-8 at byte \(offset)") }
        return s
    }
}
