import CLedgerAccel

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// Readers for `ledger import`: a strict, hand-written NDJSON byte scanner (JSONDecoder
// reads ~0.2 M lines/s) and an RFC 4180 CSV reader. Each splits one line into its fields
// as bytes (LineFields: no String per field) or gives a reason naming what is wrong.
// ImportLine, the same fields as Strings, is what `export` writes.

/// One operation as written in an import file; fields are validated later, against the state.
public struct ImportLine: Equatable, Sendable {
    public var op: String?
    public var account: String?
    public var from: String?
    public var to: String?
    public var amount: String?
    public var at: String?
    public var id: String?
    public var memo: String?
    public var currency: String?
    public var scale: String?
    public var overdraft: String?
    /// For `reverse`: the position of the event to undo.
    public var position: String?

    public init() {}

    /// Field names in file order (the CSV header of `export`).
    public static let fields = ["op", "account", "from", "to", "amount", "at", "id", "memo", "currency", "scale", "overdraft", "position"]

    /// Field `index` (in `fields` order); nil when it is not set. A switch, not key paths: they
    /// are projected at run time, which made an export of a million events take seconds.
    public subscript(field index: Int) -> String? {
        switch index {
        case 0: return op
        case 1: return account
        case 2: return from
        case 3: return to
        case 4: return amount
        case 5: return at
        case 6: return id
        case 7: return memo
        case 8: return currency
        case 9: return scale
        case 10: return overdraft
        default: return position
        }
    }
}

public struct ImportFormatError: Error, Equatable {
    public let message: String
}

/// The fields of an import line, in ImportLine.fields order (checked by a test). Raw values
/// are compile-time constants: the parser's hot path looks nothing up.
enum ImportField: Int, CaseIterable {
    case op, account, from, to, amount, at, id, memo, currency, scale, overdraft, position

    var name: String { ImportLine.fields[rawValue] }
    var bit: UInt32 { 1 << UInt32(rawValue) }

    /// The field whose name is `key`: its length and first eight bytes (as one little-endian
    /// word) tell the names apart.
    static func named(_ key: UnsafeRawBufferPointer) -> ImportField? {
        let n = key.count
        guard n >= 2, n <= 9 else { return nil }
        if n == 9 { return littleEndianWord(key) == 0x6661_7264_7265_766f && key[8] == UInt8(ascii: "t") ? .overdraft : nil }
        return named(count: n, word: littleEndianWord(key))
    }

    /// The field whose name is `count` (at most 8) bytes long, given as the little-endian word
    /// of its first eight bytes (any bytes past the name in it are ignored).
    @inline(__always)
    static func named(count n: Int, word: UInt64) -> ImportField? {
        switch (n, n >= 8 ? word : word & ((1 << UInt64(8 * n)) - 1)) {
        case (2, 0x706f): return .op
        case (7, 0x74_6e75_6f63_6361): return .account
        case (4, 0x6d6f_7266): return .from
        case (2, 0x6f74): return .to
        case (6, 0x746e_756f_6d61): return .amount
        case (2, 0x7461): return .at
        case (2, 0x6469): return .id
        case (4, 0x6f6d_656d): return .memo
        case (8, 0x7963_6e65_7272_7563): return .currency
        case (5, 0x65_6c61_6373): return .scale
        case (8, 0x6e6f_6974_6973_6f70): return .position
        default: return nil
        }
    }
}

/// The first eight bytes of `bytes` (fewer: zero-filled above) as one little-endian word: with
/// the length, how a short name (a field, an op) is told apart in one comparison. A NUL byte
/// adds nothing to the word, so callers match the length too.
@inline(__always)
func littleEndianWord(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    if bytes.count >= 8 { return UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self)) }
    var word: UInt64 = 0
    for k in 0..<bytes.count { word |= UInt64(bytes[k]) << (8 * UInt64(k)) }
    return word
}

/// One import line's fields as bytes, by index in ImportLine.fields: slices of the line itself,
/// or of `scratch` for a value that had to be decoded (JSON escapes, CSV doubled quotes). One is
/// reused line after line; a slice is valid until the next `reset`.
final class LineFields {

    /// The fields present, as a mask by index (an empty value counts as present).
    private(set) var present: UInt32 = 0
    private let slices = UnsafeMutableBufferPointer<UnsafeRawBufferPointer>.allocate(capacity: ImportField.allCases.count)
    private var scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
    private var scratchUsed = 0

    deinit {
        slices.deallocate()
        scratch.deallocate()
    }

    /// Forgets the previous line's fields, with room to decode `lineBytes` bytes of values
    /// (decoding never makes a value longer than its text).
    func reset(lineBytes: Int) {
        present = 0
        scratchUsed = 0
        if scratch.count < lineBytes {
            scratch.deallocate()
            scratch = .allocate(byteCount: lineBytes, alignment: 8)
        }
    }

    @inline(__always)
    subscript(field: ImportField) -> UnsafeRawBufferPointer? {
        present & field.bit != 0 ? slices[field.rawValue] : nil
    }

    @inline(__always)
    func isPresent(_ field: ImportField) -> Bool { present & field.bit != 0 }

    @inline(__always)
    func set(_ field: ImportField, _ value: UnsafeRawBufferPointer) {
        slices[field.rawValue] = value
        present |= field.bit
    }

    /// Where the next decoded value goes: bytes are added with `decoded(_:)`, then `endDecoded()`
    /// gives the value.
    private var decodedStart = 0
    func beginDecoded() { decodedStart = scratchUsed }
    func decoded(_ byte: UInt8) {
        scratch[scratchUsed] = byte
        scratchUsed += 1
    }
    func endDecoded() -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: scratch[decodedStart..<scratchUsed])
    }

    /// The field's text as a String (messages, metadata); nil when absent.
    func string(_ field: ImportField) -> String? { self[field].map { String(decoding: $0, as: UTF8.self) } }
}

/// Whether `bytes` are valid UTF-8 (ASCII, the common case, checked first).
func isUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
    if bytes.allSatisfy({ $0 < 0x80 }) { return true }
    return String(validating: bytes, as: UTF8.self) != nil
}

enum NDJSONLine {
    /// Splits one line (without its newline) holding one JSON object of known string fields
    /// (`scale` and `position` may also be integers) into `fields`. Rejects anything else with a
    /// precise reason. A line in the compact shape is split at its quotes (`compact`); every
    /// other one, and every malformed one, goes through the scanner, which gives the reasons.
    static func parse(_ bytes: UnsafeRawBufferPointer, into fields: LineFields) throws {
        fields.reset(lineBytes: bytes.count)
        if compact(bytes, into: fields) { return }
        try scanned(bytes, into: fields)
    }

    /// The general reader alone (the tests compare the two).
    static func scanned(_ bytes: UnsafeRawBufferPointer, into fields: LineFields) throws {
        fields.reset(lineBytes: bytes.count)
        var scanner = NDJSONScanner(bytes: bytes, fields: fields)
        try scanner.object()
    }

    /// Quotes a compact line may hold: a key and a value for each field, at most.
    static let compactQuotesMax = 4 * ImportField.allCases.count

    /// The shape nearly every generated line has, read without a byte-by-byte scan:
    /// `{"key":"value","key":"value",…}` with no space, escape, control character or byte of
    /// 0x80 or more anywhere (one vector pass says so, and finds the quotes), every value a
    /// string, every key a known field, none twice. Then every key and value lies between two
    /// consecutive quotes, and the bytes between them must be exactly `":"`, `","` or the braces.
    /// The same fields the scanner would set; false for anything else (fields then undefined),
    /// and the scanner reads the line.
    static func compact(_ bytes: UnsafeRawBufferPointer, into fields: LineFields) -> Bool {
        let n = bytes.count
        guard n >= 2, let base = bytes.baseAddress, bytes[0] == 0x7B, bytes[n - 1] == 0x7D else { return false }
        return withUnsafeTemporaryAllocation(of: UInt32.self, capacity: compactQuotesMax) { q in
            var flags: UInt32 = 0
            let count = ledger_json_quotes(base.assumingMemoryBound(to: UInt8.self), n, q.baseAddress!, compactQuotesMax, &flags)
            guard flags == 0, count >= 4, count <= compactQuotesMax, count % 4 == 0, q[0] == 1 else { return false }
            var k = 0
            while k < count {
                let keyStart = Int(q[k]) + 1, keyEnd = Int(q[k + 1]), valueStart = Int(q[k + 2]), valueEnd = Int(q[k + 3])
                // "key":"value" then , and the next key's quote, or the closing brace last.
                guard valueStart == keyEnd + 2, bytes[keyEnd + 1] == 0x3A else { return false }
                if k + 4 < count {
                    guard bytes[valueEnd + 1] == 0x2C, Int(q[k + 4]) == valueEnd + 2 else { return false }
                } else {
                    guard valueEnd + 2 == n else { return false }
                }
                // A key of at most 8 bytes from one 8-byte load, where the line holds 8 bytes from it.
                let keyBytes = keyEnd - keyStart
                let field: ImportField?
                if keyBytes >= 2 && keyBytes <= 8 && keyStart + 8 <= n {
                    field = ImportField.named(count: keyBytes, word: UInt64(littleEndian: (base + keyStart).loadUnaligned(as: UInt64.self)))
                } else {
                    field = ImportField.named(UnsafeRawBufferPointer(rebasing: bytes[keyStart..<keyEnd]))
                }
                guard let field, !fields.isPresent(field) else { return false }
                fields.set(field, UnsafeRawBufferPointer(start: base + valueStart + 1, count: valueEnd - valueStart - 1))
                k += 4
            }
            return true
        }
    }
}

/// The byte scanner behind NDJSONLine: a cursor over one line.
private struct NDJSONScanner {
    let bytes: UnsafeRawBufferPointer
    /// Kept alive by NDJSONLine.parse's caller for the scanner's whole (local) life.
    unowned(unsafe) let fields: LineFields
    var i = 0
    var n: Int { bytes.count }

    init(bytes: UnsafeRawBufferPointer, fields: LineFields) {
        self.bytes = bytes
        self.fields = fields
    }

    func fail(_ why: String) -> ImportFormatError { ImportFormatError(message: "malformed JSON at byte \(i + 1): \(why)") }

    @inline(__always)
    mutating func skipSpace() {
        while i < n, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0D { i += 1 }
    }

    /// Skips spaces and `c`, which must come next. (Inlined: a line has a dozen of these.)
    @inline(__always)
    mutating func expect(_ c: UInt8, _ what: StaticString) throws {
        skipSpace()
        guard i < n, bytes[i] == c else { throw expected(what) }
        i += 1
    }

    @inline(never)
    func expected(_ what: StaticString) -> ImportFormatError {
        fail(i < n ? "expected \(what)" : "line ends early, expected \(what)")
    }

    /// The high bit of each byte of `w` (little-endian) that is '"', '\\', below 0x20 or above
    /// 0x7F, as the "has a zero byte" bit trick finds them: 0 exactly when there is none, and
    /// the lowest flag set is exactly the first such byte (a flag above it may be false).
    @inline(__always)
    static func quoteBackslashControlOrHigh(_ w: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        func zeros(_ v: UInt64) -> UInt64 { (v &- ones) & ~v & highs }
        let quote = zeros(w ^ (ones &* 0x22))
        let backslash = zeros(w ^ (ones &* 0x5C))
        let control = (w &- ones &* 0x20) & ~w & highs
        return quote | backslash | control | (w & highs)
    }

    mutating func hex4() throws -> UInt32 {
        guard i + 4 <= n else { throw fail("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[i]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw fail("bad \\u escape")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    /// A string's bytes: a slice of the line when it has no escapes, else decoded into the
    /// fields' scratch. Checked to be UTF-8.
    mutating func string() throws -> UnsafeRawBufferPointer {
        try expect(0x22, "'\"'")
        let start = i
        // One pass to the closing quote, eight bytes at a time while a word holds no quote,
        // backslash, control character or non-ASCII byte; then byte by byte. A backslash or a
        // control character means the slow path; a non-ASCII byte, a UTF-8 check.
        let base = bytes.baseAddress!
        var k = start
        while k + 8 <= n {
            let w = UInt64(littleEndian: (base + k).loadUnaligned(as: UInt64.self))
            let special = Self.quoteBackslashControlOrHigh(w)
            if special == 0 {
                k += 8
                continue
            }
            // The lowest flag is exact: it is the first special byte.
            k += special.trailingZeroBitCount / 8
            break
        }
        var high: UInt8 = 0
        while k < n {
            let b = bytes[k]
            if b == 0x22 || b == 0x5C || b < 0x20 { break }
            high |= b
            k += 1
        }
        if k < n, bytes[k] == 0x22 {
            i = k + 1
            let value = UnsafeRawBufferPointer(rebasing: bytes[start..<k])
            guard high < 0x80 || isUTF8(value) else { throw fail("string is not valid UTF-8") }
            return value
        }
        let value = try escapedString()
        guard isUTF8(value) else { throw fail("string is not valid UTF-8") }
        return value
    }

    private mutating func escapedString() throws -> UnsafeRawBufferPointer {
        fields.beginDecoded()
        while true {
            guard i < n else { throw fail("unterminated string") }
            let c = bytes[i]
            if c == 0x22 { i += 1; break }
            if c < 0x20 { throw fail("control character in string") }
            if c != 0x5C { fields.decoded(c); i += 1; continue }
            i += 1
            guard i < n else { throw fail("unterminated escape") }
            let e = bytes[i]
            i += 1
            switch e {
            case 0x22: fields.decoded(0x22)
            case 0x5C: fields.decoded(0x5C)
            case 0x2F: fields.decoded(0x2F)
            case 0x62: fields.decoded(0x08)
            case 0x66: fields.decoded(0x0C)
            case 0x6E: fields.decoded(0x0A)
            case 0x72: fields.decoded(0x0D)
            case 0x74: fields.decoded(0x09)
            case 0x75:
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard i + 2 <= n, bytes[i] == 0x5C, bytes[i + 1] == 0x75 else { throw fail("lone surrogate in \\u escape") }
                    i += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw fail("bad surrogate pair") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw fail("lone surrogate in \\u escape")
                }
                guard let u = Unicode.Scalar(scalar) else { throw fail("bad \\u escape") }
                // At most 4 UTF-8 bytes for the 6 (or 12) bytes of the escape.
                for b in UTF8.encode(u)! { fields.decoded(b) }
            default:
                throw fail("bad escape '\\\(Character(Unicode.Scalar(e)))'")
            }
        }
        return fields.endDecoded()
    }

    /// A key and its colon: any key, spaced or escaped as JSON allows (the general path).
    mutating func key() throws -> ImportField {
        let keyStart = i
        let name = try string()
        guard let field = ImportField.named(name) else {
            i = keyStart
            throw fail("unknown field '\(String(decoding: name, as: UTF8.self))'")
        }
        try expect(0x3A, "':'")
        return field
    }

    /// The common shape of a key, read at once: `"name":` with a known name of at most 7
    /// plain bytes, taken from one 8-byte load after the opening quote. Nil (nothing read) for
    /// anything else, which key() then reads.
    @inline(__always)
    mutating func quickKey() -> ImportField? {
        guard i + 10 <= n, bytes[i] == 0x22 else { return nil }
        let w = UInt64(littleEndian: (bytes.baseAddress! + i + 1).loadUnaligned(as: UInt64.self))
        let special = Self.quoteBackslashControlOrHigh(w)
        guard special != 0 else { return nil }
        // The first special byte (exact): the name ends there if it is the closing quote.
        let count = special.trailingZeroBitCount / 8
        guard count >= 2, bytes[i + 1 + count] == 0x22, bytes[i + 2 + count] == 0x3A,
              let field = ImportField.named(count: count, word: w) else { return nil }
        i += count + 3
        return field
    }

    mutating func object() throws {
        try expect(0x7B, "'{'")
        skipSpace()
        if i < n, bytes[i] == 0x7D {
            i += 1
        } else {
            while true {
                skipSpace()
                let field = try quickKey() ?? key()
                skipSpace()
                guard i < n else { throw fail("line ends early, expected a value") }
                let value: UnsafeRawBufferPointer
                if bytes[i] == 0x22 {
                    value = try string()
                } else if field == .scale || field == .position, bytes[i] >= 0x30, bytes[i] <= 0x39 {
                    let start = i
                    while i < n, bytes[i] >= 0x30, bytes[i] <= 0x39 { i += 1 }
                    guard i - start <= (field == .scale ? 2 : 19) else { throw fail("\(field.name) is too large") }
                    value = UnsafeRawBufferPointer(rebasing: bytes[start..<i])
                } else {
                    throw fail("field '\(field.name)' must be a string\(field == .amount ? " like \"12.34\" (numbers are not exact)" : "")")
                }
                guard !fields.isPresent(field) else { throw fail("duplicate field '\(field.name)'") }
                fields.set(field, value)
                skipSpace()
                guard i < n else { throw fail("line ends early, expected ',' or '}'") }
                if bytes[i] == 0x2C { i += 1; continue }
                if bytes[i] == 0x7D { i += 1; break }
                throw fail("expected ',' or '}'")
            }
        }
        skipSpace()
        guard i == n else { throw fail("trailing characters after the object") }
    }
}

enum CSVLine {
    /// Splits one CSV record (RFC 4180: quoted fields, "" for a quote inside quotes), calling
    /// `visit` with each field's index and bytes (a slice of the line, or decoded into `fields`'
    /// scratch, which this resets). Every field is checked to be UTF-8.
    static func split(_ bytes: UnsafeRawBufferPointer, scratch fields: LineFields,
                      _ visit: (Int, UnsafeRawBufferPointer) throws -> Void) throws {
        fields.reset(lineBytes: bytes.count)
        var i = 0, index = 0
        let n = bytes.count
        while true {
            let value: UnsafeRawBufferPointer
            if i < n, bytes[i] == 0x22 {
                i += 1
                fields.beginDecoded()
                while true {
                    guard i < n else { throw ImportFormatError(message: "malformed CSV: unterminated quoted field") }
                    if bytes[i] == 0x22 {
                        if i + 1 < n, bytes[i + 1] == 0x22 { fields.decoded(0x22); i += 2; continue }
                        i += 1
                        break
                    }
                    fields.decoded(bytes[i])
                    i += 1
                }
                guard i == n || bytes[i] == 0x2C else { throw ImportFormatError(message: "malformed CSV: characters after a closing quote") }
                value = fields.endDecoded()
            } else {
                let start = i
                while i < n, bytes[i] != 0x2C {
                    if bytes[i] == 0x22 { throw ImportFormatError(message: "malformed CSV: quote inside an unquoted field") }
                    i += 1
                }
                value = UnsafeRawBufferPointer(rebasing: bytes[start..<i])
            }
            guard isUTF8(value) else { throw ImportFormatError(message: "malformed CSV: not valid UTF-8") }
            try visit(index, value)
            index += 1
            if i == n { return }
            i += 1 // the comma
        }
    }
}
