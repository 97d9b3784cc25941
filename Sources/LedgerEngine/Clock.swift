// Time as an input: the engine asks a clock; tests can pin it with LEDGER_NOW_MICROS.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

public struct Clock: Sendable {
    public let nowMicros: @Sendable () -> Int64

    public init(nowMicros: @escaping @Sendable () -> Int64) { self.nowMicros = nowMicros }

    public static let system = Clock {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }

    public static func fixed(_ micros: Int64) -> Clock { Clock { micros } }

    /// The timestamp of the next event: the clock, but never at or before the last one
    /// (a clock that steps back yields last + 1 µs).
    func nextTimestamp(after lastMicros: Int64) -> Int64 {
        let now = nowMicros()
        return now > lastMicros ? now : lastMicros &+ 1
    }
}
