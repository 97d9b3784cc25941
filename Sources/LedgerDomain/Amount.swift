// Exact money: Int64 minor units at an account's scale. Decimal text is parsed
// and formatted by hand, never through floating point; every sum reports overflow.

/// A decimal as typed by a user, before an account's scale is known: "12.5" → digits 125, fractionDigits 1.
public struct DecimalText: Equatable, Sendable {
    public let units: Int64
    public let fractionDigits: Int

    public enum ParseError: Error, Equatable { case invalid(String) }

    /// Accepts `12`, `12.5`, `0.10`; rejects signs, exponents, spaces, empty parts and overflow.
    public static func parse(_ text: String) throws -> DecimalText {
        var copy = text
        return try copy.withUTF8 { try parse(utf8: UnsafeRawBufferPointer($0)) }
    }

    /// `parse` on UTF-8 bytes (an import line's field, without making a String).
    public static func parse(utf8 text: UnsafeRawBufferPointer) throws -> DecimalText {
        func invalid(_ why: String) -> ParseError { .invalid("bad amount '\(String(decoding: text, as: UTF8.self))': \(why)") }
        var units: Int64 = 0
        var fractionDigits = 0
        var seenDot = false
        var digits = 0
        for c in text {
            if c == UInt8(ascii: ".") {
                guard !seenDot, digits > 0 else { throw invalid("expected a positive decimal like 12 or 12.34") }
                seenDot = true
                continue
            }
            guard c >= 48 && c <= 57 else { throw invalid("expected a positive decimal like 12 or 12.34") }
            let (m, o1) = units.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int64(c - 48))
            guard !o1 && !o2 else { throw invalid("too large") }
            units = s
            digits += 1
            if seenDot { fractionDigits += 1 }
        }
        guard digits > 0, !(seenDot && fractionDigits == 0) else { throw invalid("expected a positive decimal like 12 or 12.34") }
        return DecimalText(units: units, fractionDigits: fractionDigits)
    }

    /// Minor units at `scale`; nil reason when it has more fractional digits than the scale or overflows.
    public func minorUnits(scale: Int) throws -> Int64 {
        guard fractionDigits <= scale else {
            throw ParseError.invalid("amount has \(fractionDigits) decimal places; this account allows \(scale)")
        }
        var v = units
        for _ in fractionDigits..<scale {
            let (m, o) = v.multipliedReportingOverflow(by: 10)
            guard !o else { throw ParseError.invalid("amount is too large for scale \(scale)") }
            v = m
        }
        return v
    }
}

public enum Money {
    /// "-12.34" style text for `units` minor units at `scale` (0...18).
    public static func format(_ units: Int64, scale: Int) -> String {
        withFormatted(units, scale: scale) { String(decoding: $0, as: UTF8.self) }
    }

    /// The most bytes `format` writes: a sign, 19 digits and a point, or "-0." and 18 digits.
    public static let textBytesMax = 21

    /// The length of the text `format` gives, without writing it: at least scale + 1 digits, a
    /// point when scale > 0, a sign when negative.
    public static func textLength(_ units: Int64, scale: Int) -> Int {
        var digits = 1
        var rest = units.magnitude / 10
        while rest > 0 { digits += 1; rest /= 10 }
        return max(digits, scale + 1) + (scale > 0 ? 1 : 0) + (units < 0 ? 1 : 0)
    }

    /// Writes the text `format` gives at `out` (room for `textBytesMax` bytes); returns its length.
    public static func format(_ units: Int64, scale: Int, to out: UnsafeMutablePointer<UInt8>) -> Int {
        withFormatted(units, scale: scale) { text in
            out.update(from: text.baseAddress!, count: text.count)
            return text.count
        }
    }

    private static func withFormatted<R>(_ units: Int64, scale: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        // Int64.min has no positive counterpart: work on the magnitude as UInt64.
        var magnitude = units.magnitude
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 48) { b in
            // Digits from the right; a point after `scale` of them; at least one digit before it.
            var i = b.count
            var written = 0
            while magnitude > 0 || written <= scale {
                if written == scale && scale > 0 {
                    i -= 1
                    b[i] = UInt8(ascii: ".")
                }
                i -= 1
                b[i] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                written += 1
            }
            if units < 0 {
                i -= 1
                b[i] = UInt8(ascii: "-")
            }
            return body(UnsafeBufferPointer(rebasing: b[i...]))
        }
    }

    public static func add(_ a: Int64, _ b: Int64) -> Int64? {
        let (r, o) = a.addingReportingOverflow(b)
        return o ? nil : r
    }

    public static func subtract(_ a: Int64, _ b: Int64) -> Int64? {
        let (r, o) = a.subtractingReportingOverflow(b)
        return o ? nil : r
    }
}
