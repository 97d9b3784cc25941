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
        var out: [UInt8] = []
        out.reserveCapacity(256)
        render(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    func render(into out: inout [UInt8]) {
        switch self {
        case .string(let s): JSON.escape(s, into: &out)
        case .int(let v):
            if v < 0 { out.append(UInt8(ascii: "-")) }
            JSON.digits(v.magnitude, into: &out)
        case .uint(let v): JSON.digits(v, into: &out)
        case .bool(let b): out += (b ? "true" : "false").utf8
        case .null: out += "null".utf8
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                item.render(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let fields):
            out.append(UInt8(ascii: "{"))
            for (i, (key, value)) in fields.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSON.escape(key, into: &out)
                out.append(UInt8(ascii: ":"))
                value.render(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Already-rendered JSON text (keys and punctuation), copied as bytes.
    static func literal(_ text: StaticString, into out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// The decimal digits of `v`, without a String in between.
    static func digits(_ v: UInt64, into out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { b in
            var i = 20, rest = v
            repeat {
                i -= 1
                b[i] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            } while rest > 0
            out.append(contentsOf: UnsafeBufferPointer(rebasing: b[i..<20]))
        }
    }

    static func escape(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most strings (names, amounts, times) need no escaping: copy their bytes whole.
        var text = s
        text.withUTF8 { bytes in
            if !bytes.contains(where: needsEscape) {
                out.append(contentsOf: bytes)
            } else {
                for b in bytes { escaped(b) { out.append($0) } }
            }
        }
        out.append(UInt8(ascii: "\""))
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
