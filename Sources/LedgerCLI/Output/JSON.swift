// A tiny JSON value with a fixed key order (the order scripts and docs show)
// and correct string escaping. Numbers that are money are strings, never doubles.
// Rendered into bytes: a 10k-account balance answer is one pass, no per-character Strings.

enum JSON {
    case string(String)
    case int(Int64)
    case uint(UInt64)
    case bool(Bool)
    case null
    case array([JSON])
    case object([(String, JSON)])

    static func optional(_ s: String?) -> JSON { s.map(JSON.string) ?? .null }

    func rendered() -> String {
        String(decoding: OutputBytes.build(capacity: 256) { render(into: &$0) }, as: UTF8.self)
    }

    func render(into out: inout [UInt8]) {
        out += OutputBytes.build(capacity: 256) { render(into: &$0) }
    }

    /// The value's JSON text, written into `out` (a feed of a million events renders each one
    /// straight into the output).
    func render(into out: inout OutputBytes) {
        switch self {
        case .string(let s): out.jsonString(s)
        case .int(let v):
            out.reserve(21)
            if v < 0 { out.byte(UInt8(ascii: "-")) }
            out.digits(v.magnitude)
        case .uint(let v):
            out.reserve(20)
            out.digits(v)
        case .bool(let b):
            out.reserve(5)
            if b { out.literal("true") } else { out.literal("false") }
        case .null:
            out.reserve(4)
            out.literal("null")
        case .array(let items):
            out.reserve(1)
            out.byte(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.reserve(1); out.byte(UInt8(ascii: ",")) }
                item.render(into: &out)
            }
            out.reserve(1)
            out.byte(UInt8(ascii: "]"))
        case .object(let fields):
            out.reserve(1)
            out.byte(UInt8(ascii: "{"))
            for (i, (key, value)) in fields.enumerated() {
                if i > 0 { out.reserve(1); out.byte(UInt8(ascii: ",")) }
                out.jsonString(key)
                out.reserve(1)
                out.byte(UInt8(ascii: ":"))
                value.render(into: &out)
            }
            out.reserve(1)
            out.byte(UInt8(ascii: "}"))
        }
    }

    /// Whether byte `b` of a string's UTF-8 is written as an escape.
    @inline(__always)
    static func needsEscape(_ b: UInt8) -> Bool {
        b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\")
    }

    /// At most 6 bytes: the escape of `b`, or `b` itself.
    static func escaped(_ b: UInt8, _ put: (UInt8) -> Void) {
        let hex: StaticString = "0123456789abcdef"
        switch b {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): put(UInt8(ascii: "\\")); put(b)
        case 0x0A: put(UInt8(ascii: "\\")); put(UInt8(ascii: "n"))
        case 0x0D: put(UInt8(ascii: "\\")); put(UInt8(ascii: "r"))
        case 0x09: put(UInt8(ascii: "\\")); put(UInt8(ascii: "t"))
        case 0..<0x20:
            for c in "\\u00".utf8 { put(c) }
            put(hex.utf8Start[Int(b >> 4)])
            put(hex.utf8Start[Int(b & 0xF)])
        default: put(b)
        }
    }
}

extension OutputBytes {
    /// `s` as a JSON string, escaped as JSON.escape does (it makes its own room).
    mutating func jsonString(_ s: String) {
        var text = s
        text.withUTF8 { bytes in
            reserve(bytes.count * 6 + 2)
            byte(UInt8(ascii: "\""))
            if !bytes.contains(where: JSON.needsEscape) {
                self.bytes(bytes)
            } else {
                for b in bytes { JSON.escaped(b) { byte($0) } }
            }
            byte(UInt8(ascii: "\""))
        }
    }
}
