// UTC microseconds since the Unix epoch, with a hand-written RFC 3339 parser and
// formatter (no Foundation: ISO8601DateFormatter parses ~15 k/s, this ~10 M/s).
// A bare date given as a bound means the END of that day, UTC, inclusive.

public struct Timestamp: Comparable, Hashable, Sendable, CustomStringConvertible {
    public let micros: Int64

    public init(micros: Int64) { self.micros = micros }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.micros < b.micros }

    public static let microsPerSecond: Int64 = 1_000_000
    public static let microsPerDay: Int64 = 86_400 * microsPerSecond

    /// Years outside 0001...9999 are rejected by the parser, so every value it yields formats back.
    public static let yearRange = 1...9999

    public var description: String { rfc3339 }

    /// "YYYY-MM-DDTHH:MM:SS.ffffffZ", always with six fractional digits.
    public var rfc3339: String {
        withRFC3339 { String(decoding: $0, as: UTF8.self) }
    }

    /// Calls `body` with the bytes of `rfc3339`; a year from 0 to 9999 (every time a store
    /// accepts) is written into 27 bytes on the stack, with no String built in between (an export
    /// prints one per event).
    public func withRFC3339<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        let days = Self.floorDiv(micros, Self.microsPerDay)
        let inDay = micros &- days &* Self.microsPerDay
        let (y, m, d) = Self.civil(fromDays: days)
        guard (0...9999).contains(y) else {
            var text = generalRFC3339
            return text.withUTF8(body)
        }
        let seconds = inDay / Self.microsPerSecond
        let fraction = inDay % Self.microsPerSecond
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 27) { b in
            func put(_ v: Int64, _ at: Int, _ width: Int) {
                var v = v
                for k in stride(from: at + width - 1, through: at, by: -1) {
                    b[k] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v % 10)
                    v /= 10
                }
            }
            put(y, 0, 4); b[4] = UInt8(ascii: "-"); put(m, 5, 2); b[7] = UInt8(ascii: "-"); put(d, 8, 2)
            b[10] = UInt8(ascii: "T"); put(seconds / 3600, 11, 2); b[13] = UInt8(ascii: ":"); put(seconds / 60 % 60, 14, 2)
            b[16] = UInt8(ascii: ":"); put(seconds % 60, 17, 2); b[19] = UInt8(ascii: "."); put(fraction, 20, 6); b[26] = UInt8(ascii: "Z")
            return body(UnsafeBufferPointer(b))
        }
    }

    /// Any instant, years of any sign and width included (a damaged record must print, not trap).
    private var generalRFC3339: String {
        // Wrapping arithmetic: the exact remainder always fits, even for Int64.min; years outside
        // 0001...9999 print with as many digits as they need.
        let days = Self.floorDiv(micros, Self.microsPerDay)
        let inDay = micros &- days &* Self.microsPerDay
        let (y, m, d) = Self.civil(fromDays: days)
        let seconds = inDay / Self.microsPerSecond
        let fraction = inDay % Self.microsPerSecond
        func pad(_ v: Int64, _ width: Int) -> String {
            let digits = String(v.magnitude)
            return (v < 0 ? "-" : "") + String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2) + "T" + pad(seconds / 3600, 2) + ":" + pad(seconds / 60 % 60, 2) + ":"
            + pad(seconds % 60, 2) + "." + pad(fraction, 6) + "Z"
    }

    public enum ParseError: Error, Equatable { case invalid(String) }

    /// Parses RFC 3339 (`2024-03-05T09:30:00Z`, `…:00.5+02:00`, lower-case `t`/`z` too) or a
    /// date (`2024-03-05`). A date yields the last microsecond of that day when `dateIsEndOfDay`,
    /// else its first.
    public static func parse(_ text: String, dateIsEndOfDay: Bool = true) throws -> Timestamp {
        var copy = text
        return try copy.withUTF8 { try parse(UnsafeRawBufferPointer($0), dateIsEndOfDay: dateIsEndOfDay, original: text) }
    }

    public static func parse(_ u: UnsafeRawBufferPointer, dateIsEndOfDay: Bool = true, original: @autoclosure () -> String = "") throws -> Timestamp {
        var memo = DateMemo()
        return try parse(u, dateIsEndOfDay: dateIsEndOfDay, memo: &memo, original: original())
    }

    /// The day the last parsed date part named, by its ten bytes: an import's times mostly share
    /// their date, whose checks and day count are then skipped.
    public struct DateMemo {
        var first8: UInt64 = 0
        var last2: UInt16 = 0
        var dayStartMicros: Int64 = 0
        var known = false

        public init() {}

        init(first8: UInt64, last2: UInt16, dayStartMicros: Int64, known: Bool) {
            self.first8 = first8
            self.last2 = last2
            self.dayStartMicros = dayStartMicros
            self.known = known
        }
    }

    /// As `parse(_:dateIsEndOfDay:original:)`, the date part taken from `memo` when it is the
    /// one parsed last (and remembered otherwise).
    public static func parse(_ u: UnsafeRawBufferPointer, dateIsEndOfDay: Bool = true, memo: inout DateMemo,
                             original: @autoclosure () -> String = "") throws -> Timestamp {
        func fail(_ why: String) -> ParseError {
            .invalid("bad time '\(original().isEmpty ? String(decoding: u, as: UTF8.self) : original())': \(why) (use RFC 3339 like 2024-03-05T09:30:00Z, or a date like 2024-03-05)")
        }
        func digits(_ at: Int, _ count: Int) -> Int64? { decimal(u, at, count) }
        let dayStart: Int64
        if u.count >= 10, memo.known, u.loadUnaligned(as: UInt64.self) == memo.first8,
           u.loadUnaligned(fromByteOffset: 8, as: UInt16.self) == memo.last2 {
            dayStart = memo.dayStartMicros
        } else {
            guard let year = digits(0, 4), u.count >= 10, u[4] == UInt8(ascii: "-"), let month = digits(5, 2),
                  u[7] == UInt8(ascii: "-"), let day = digits(8, 2) else { throw fail("expected YYYY-MM-DD") }
            guard yearRange.contains(Int(year)) else { throw fail("year out of range") }
            guard (1...12).contains(month) else { throw fail("month out of range") }
            guard day >= 1 && day <= daysIn(month: month, year: year) else { throw fail("day out of range") }
            dayStart = days(fromCivil: year, month, day) * microsPerDay
            memo = DateMemo(first8: u.loadUnaligned(as: UInt64.self), last2: u.loadUnaligned(fromByteOffset: 8, as: UInt16.self),
                            dayStartMicros: dayStart, known: true)
        }
        if u.count == 10 {
            return Timestamp(micros: dateIsEndOfDay ? dayStart + microsPerDay - 1 : dayStart)
        }
        if let micros = commonTimeOfDayMicros(u) { return Timestamp(micros: dayStart + micros) }
        return Timestamp(micros: dayStart + (try timeOfDayMicros(u, fail: fail)))
    }

    /// The time after the date of `YYYY-MM-DDTHH:MM:SS.ffffffZ` (27 bytes, what `export` and the
    /// sample data write), in microseconds: read eight bytes at a time, each byte checked against
    /// the shape at once; nil for anything else (then timeOfDayMicros decides, and words any error).
    @inline(__always)
    static func commonTimeOfDayMicros(_ u: UnsafeRawBufferPointer) -> Int64? {
        guard u.count == 27, u[10] == UInt8(ascii: "T") else { return nil }
        // XOR with the shape: a digit becomes its value (0–9, and only a digit does), the
        // punctuation 0; so every byte must be ≤ 9 and the punctuation's bytes 0.
        let lows: UInt64 = 0x7676_7676_7676_7676, highs: UInt64 = 0x8080_8080_8080_8080
        let t = UInt64(littleEndian: u.loadUnaligned(fromByteOffset: 11, as: UInt64.self)) ^ 0x3030_3A30_303A_3030   // "HH:MM:SS"
        let f = UInt64(littleEndian: u.loadUnaligned(fromByteOffset: 19, as: UInt64.self)) ^ 0x5A30_3030_3030_302E   // ".ffffffZ"
        guard (t | (t &+ lows)) & highs == 0, t & 0x0000_FF00_00FF_0000 == 0,
              (f | (f &+ lows)) & highs == 0, f & 0xFF00_0000_0000_00FF == 0 else { return nil }
        func digit(_ w: UInt64, _ k: UInt64) -> Int64 { Int64(truncatingIfNeeded: (w >> (8 * k)) & 0xFF) }
        let hour = digit(t, 0) * 10 + digit(t, 1), minute = digit(t, 3) * 10 + digit(t, 4), second = digit(t, 6) * 10 + digit(t, 7)
        guard hour <= 23, minute <= 59, second <= 59 else { return nil }
        var fraction: Int64 = 0
        for k in UInt64(1)...6 { fraction = fraction * 10 + digit(f, k) }
        return (hour * 3600 + minute * 60 + second) * microsPerSecond + fraction
    }

    /// The time after the date (from byte 10: `THH:MM:SS[.fraction](Z|±HH:MM)`) in microseconds
    /// since the day's start, the offset applied.
    static func timeOfDayMicros(_ u: UnsafeRawBufferPointer, fail: (String) -> ParseError) throws -> Int64 {
        func digits(_ at: Int, _ count: Int) -> Int64? { decimal(u, at, count) }
        guard u[10] == UInt8(ascii: "T") || u[10] == UInt8(ascii: "t") || u[10] == UInt8(ascii: " ") else { throw fail("expected 'T' after the date") }
        guard let hour = digits(11, 2), u.count > 13, u[13] == UInt8(ascii: ":"), let minute = digits(14, 2),
              u.count > 16, u[16] == UInt8(ascii: ":"), let second = digits(17, 2) else { throw fail("expected HH:MM:SS") }
        guard hour <= 23, minute <= 59, second <= 59 else { throw fail("time of day out of range") }
        var i = 19
        var fraction: Int64 = 0
        if i < u.count && u[i] == UInt8(ascii: ".") {
            i += 1
            var n = 0
            while i < u.count, u[i] >= 48, u[i] <= 57 {
                if n < 6 { fraction = fraction * 10 + Int64(u[i] - 48) } else if u[i] != 48 { throw fail("more precision than microseconds") }
                n += 1
                i += 1
            }
            guard n > 0 else { throw fail("empty fraction") }
            if n < 6 { for _ in n..<6 { fraction *= 10 } }
        }
        guard i < u.count else { throw fail("missing time zone ('Z' or ±HH:MM)") }
        var offsetSeconds: Int64 = 0
        switch u[i] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            i += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard let oh = digits(i + 1, 2), i + 3 < u.count, u[i + 3] == UInt8(ascii: ":"), let om = digits(i + 4, 2),
                  oh <= 23, om <= 59 else { throw fail("bad offset, expected ±HH:MM") }
            offsetSeconds = (oh * 3600 + om * 60) * (u[i] == UInt8(ascii: "-") ? -1 : 1)
            i += 6
        default:
            throw fail("missing time zone ('Z' or ±HH:MM)")
        }
        guard i == u.count else { throw fail("unexpected characters at the end") }
        let seconds = hour * 3600 + minute * 60 + second - offsetSeconds
        return seconds * microsPerSecond + fraction
    }

    /// The number written by `count` ASCII digits of `u` from `at`; nil if any is not a digit or `u` ends first.
    static func decimal(_ u: UnsafeRawBufferPointer, _ at: Int, _ count: Int) -> Int64? {
        guard at + count <= u.count else { return nil }
        var v: Int64 = 0
        for i in at..<(at + count) {
            let c = u[i]
            guard c >= 48 && c <= 57 else { return nil }
            v = v * 10 + Int64(c - 48)
        }
        return v
    }

    static func isLeap(_ y: Int64) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Floor division for b > 0 that cannot overflow (Int64.min included).
    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : (a + 1) / b - 1 }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    static func days(fromCivil y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = floorDiv(y, 400)
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
