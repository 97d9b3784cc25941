#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// Readers for `ledger import`: a strict, hand-written NDJSON byte scanner (JSONDecoder
// reads ~0.2 M lines/s) and an RFC 4180 CSV reader. Each turns one line into an
// ImportLine of text fields or a reason naming what is wrong.

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

    /// Field names in file order (the CSV header of `export`), each with where it is kept.
    // Key paths are immutable values; the array is a constant.
    nonisolated(unsafe) public static let fieldPaths: [(name: String, path: WritableKeyPath<ImportLine, String?>)] = [
        ("op", \.op), ("account", \.account), ("from", \.from), ("to", \.to), ("amount", \.amount), ("at", \.at),
        ("id", \.id), ("memo", \.memo), ("currency", \.currency), ("scale", \.scale), ("overdraft", \.overdraft),
        ("position", \.position),
    ]
    public static let fields = fieldPaths.map(\.name)

    /// Sets field `name`; false when there is no such field.
    mutating func set(_ name: String, _ value: String) -> Bool {
        guard let path = Self.fieldPaths.first(where: { $0.name == name })?.path else { return false }
        self[keyPath: path] = value
        return true
    }

    /// Sets the field at `index` in `fields` (the parser's fast path: no key path, no name).
    mutating func set(index: Int, _ value: String) {
        switch index {
        case 0: op = value
        case 1: account = value
        case 2: from = value
        case 3: to = value
        case 4: amount = value
        case 5: at = value
        case 6: id = value
        case 7: memo = value
        case 8: currency = value
        case 9: scale = value
        case 10: overdraft = value
        default: position = value
        }
    }

    /// The fields present, as a mask by index in `fields`.
    var presentFields: UInt32 {
        func bit(_ value: String?, _ i: UInt32) -> UInt32 { value == nil ? 0 : 1 << i }
        return bit(op, 0) | bit(account, 1) | bit(from, 2) | bit(to, 3) | bit(amount, 4) | bit(at, 5) | bit(id, 6)
            | bit(memo, 7) | bit(currency, 8) | bit(scale, 9) | bit(overdraft, 10) | bit(position, 11)
    }

    static let scaleField = fields.firstIndex(of: "scale")!
    static let positionField = fields.firstIndex(of: "position")!

    /// Field names as bytes, for matching keys without making a String.
    static let fieldBytes: [[UInt8]] = fields.map { Array($0.utf8) }

    /// The index in `fields` of the name in `key`, or nil.
    static func fieldIndex(_ key: UnsafeRawBufferPointer) -> Int? {
        fieldBytes.withUnsafeBufferPointer { names in
            for i in 0..<names.count where names[i].count == key.count {
                if names[i].withUnsafeBytes({ memcmp($0.baseAddress!, key.baseAddress!, key.count) }) == 0 { return i }
            }
            return nil
        }
    }

    public func value(of name: String) -> String? {
        Self.fieldPaths.first(where: { $0.name == name }).flatMap { self[keyPath: $0.path] }
    }
}

public struct ImportFormatError: Error, Equatable {
    public let message: String
}

enum NDJSONLine {
    /// Parses one line (without its newline) holding one JSON object of known string fields
    /// (`scale` and `position` may also be integers). Rejects anything else with a precise reason.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws -> ImportLine {
        var scanner = NDJSONScanner(bytes: bytes)
        return try scanner.object()
    }
}

/// The byte scanner behind NDJSONLine: a cursor over one line.
private struct NDJSONScanner {
    let bytes: UnsafeRawBufferPointer
    var i = 0
    var n: Int { bytes.count }

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    func fail(_ why: String) -> ImportFormatError { ImportFormatError(message: "malformed JSON at byte \(i + 1): \(why)") }

    mutating func skipSpace() {
        while i < n, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0D { i += 1 }
    }

    mutating func expect(_ c: UInt8, _ what: String) throws {
        skipSpace()
        guard i < n, bytes[i] == c else { throw fail(i < n ? "expected \(what)" : "line ends early, expected \(what)") }
        i += 1
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

    /// A string without escapes, as the bytes between its quotes (nil: it has escapes; nothing consumed).
    mutating func plainString() throws -> UnsafeRawBufferPointer? {
        let before = i
        try expect(0x22, "'\"'")
        let start = i
        while i < n, bytes[i] != 0x22, bytes[i] != 0x5C, bytes[i] >= 0x20 { i += 1 }
        if i < n, bytes[i] == 0x22 {
            i += 1
            return UnsafeRawBufferPointer(rebasing: bytes[start..<(i - 1)])
        }
        i = before
        return nil
    }

    mutating func string() throws -> String {
        if let plain = try plainString() {
            return try utf8String(plain) ?? { throw fail("string is not valid UTF-8") }()
        }
        try expect(0x22, "'\"'")
        var out: [UInt8] = []
        while true {
            guard i < n else { throw fail("unterminated string") }
            let c = bytes[i]
            if c == 0x22 { i += 1; break }
            if c < 0x20 { throw fail("control character in string") }
            if c != 0x5C { out.append(c); i += 1; continue }
            i += 1
            guard i < n else { throw fail("unterminated escape") }
            let e = bytes[i]
            i += 1
            switch e {
            case 0x22: out.append(0x22)
            case 0x5C: out.append(0x5C)
            case 0x2F: out.append(0x2F)
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0C)
            case 0x6E: out.append(0x0A)
            case 0x72: out.append(0x0D)
            case 0x74: out.append(0x09)
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
                out.append(contentsOf: Array(String(Character(u)).utf8))
            default:
                throw fail("bad escape '\\\(Character(Unicode.Scalar(e)))'")
            }
        }
        return try utf8String(out) ?? { throw fail("string is not valid UTF-8") }()
    }

    mutating func object() throws -> ImportLine {
        var line = ImportLine()
        var seen: UInt32 = 0
        try expect(0x7B, "'{'")
        skipSpace()
        if i < n, bytes[i] == 0x7D {
            i += 1
        } else {
            while true {
                let keyStart = i
                let field: Int?
                if let plain = try plainString() {
                    field = ImportLine.fieldIndex(plain)
                } else {
                    field = ImportLine.fields.firstIndex(of: try string())
                }
                guard let field else {
                    i = keyStart
                    throw fail("unknown field '\(try string())'")
                }
                let key = ImportLine.fields[field]
                try expect(0x3A, "':'")
                skipSpace()
                guard i < n else { throw fail("line ends early, expected a value") }
                let value: String
                if bytes[i] == 0x22 {
                    value = try string()
                } else if field == ImportLine.scaleField || field == ImportLine.positionField, bytes[i] >= 0x30, bytes[i] <= 0x39 {
                    let start = i
                    while i < n, bytes[i] >= 0x30, bytes[i] <= 0x39 { i += 1 }
                    guard i - start <= (field == ImportLine.scaleField ? 2 : 19) else { throw fail("\(key) is too large") }
                    value = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
                } else {
                    throw fail("field '\(key)' must be a string\(key == "amount" ? " like \"12.34\" (numbers are not exact)" : "")")
                }
                guard seen & (1 << field) == 0 else { throw fail("duplicate field '\(key)'") }
                seen |= 1 << field
                line.set(index: field, value)
                skipSpace()
                guard i < n else { throw fail("line ends early, expected ',' or '}'") }
                if bytes[i] == 0x2C { i += 1; continue }
                if bytes[i] == 0x7D { i += 1; break }
                throw fail("expected ',' or '}'")
            }
        }
        skipSpace()
        guard i == n else { throw fail("trailing characters after the object") }
        return line
    }
}

/// A String from UTF-8 bytes, or nil if they are not valid UTF-8. ASCII (the common case)
/// skips the generic validating initializer, which was a tenth of import time.
func utf8String(_ bytes: [UInt8]) -> String? {
    bytes.withUnsafeBytes { utf8String($0) }
}

func utf8String(_ bytes: UnsafeRawBufferPointer) -> String? {
    if bytes.allSatisfy({ $0 < 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
    return String(validating: bytes, as: UTF8.self)
}

enum CSVLine {
    /// Splits one CSV record (RFC 4180: quoted fields, "" for a quote inside quotes).
    static func fields(_ bytes: UnsafeRawBufferPointer) throws -> [String] {
        var out: [String] = []
        var i = 0
        let n = bytes.count
        while true {
            var field: [UInt8] = []
            if i < n, bytes[i] == 0x22 {
                i += 1
                while true {
                    guard i < n else { throw ImportFormatError(message: "malformed CSV: unterminated quoted field") }
                    if bytes[i] == 0x22 {
                        if i + 1 < n, bytes[i + 1] == 0x22 { field.append(0x22); i += 2; continue }
                        i += 1
                        break
                    }
                    field.append(bytes[i])
                    i += 1
                }
                guard i == n || bytes[i] == 0x2C else { throw ImportFormatError(message: "malformed CSV: characters after a closing quote") }
            } else {
                while i < n, bytes[i] != 0x2C {
                    if bytes[i] == 0x22 { throw ImportFormatError(message: "malformed CSV: quote inside an unquoted field") }
                    field.append(bytes[i])
                    i += 1
                }
            }
            guard let s = utf8String(field) else { throw ImportFormatError(message: "malformed CSV: not valid UTF-8") }
            out.append(s)
            if i == n { return out }
            i += 1 // the comma
        }
    }
}
