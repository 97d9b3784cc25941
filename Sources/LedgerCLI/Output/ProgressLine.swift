// The progress line a long command (replay, verify) draws on stderr when it is a terminal:
// how far, how fast, how long still to go.

import LedgerEngine

/// Redraws one line on a terminal as `done` grows towards `total`.
final class ProgressLine {
    private let label: String
    private let console: Console
    private let clock: Clock
    private let started: Int64

    init(_ label: String, console: Console, clock: Clock = .system) {
        self.label = label
        self.console = console
        self.clock = clock
        started = clock.nowMicros()
    }

    /// Draws the line for `done` of `total` events (the last one ends it with a newline).
    func update(done: UInt64, total: UInt64) {
        let seconds = Double(clock.nowMicros() - started) / 1e6
        console.errPartial("\r" + Self.text(label, done: done, total: total, seconds: seconds) + (done >= total ? "\n" : ""))
    }

    /// "replay: 524288/1000000 events (52%), 2.10 M events/s, 0.2 s left"; the rate and time
    /// left once there is a rate to tell them from.
    static func text(_ label: String, done: UInt64, total: UInt64, seconds: Double) -> String {
        let percent = total == 0 ? 100 : Int(min(done, total) * 100 / total)
        var line = "\(label): \(done)/\(total) events (\(percent)%)"
        guard done > 0, seconds > 0 else { return line }
        let rate = Double(done) / seconds
        line += rate >= 1e6 ? ", \(fixed(rate / 1e6, 2)) M events/s" : ", \(Int(rate)) events/s"
        if done < total { line += ", \(fixed(Double(total - done) / rate, 1)) s left" }
        return line
    }

    /// `value` with `digits` decimals (no Foundation formatting).
    private static func fixed(_ value: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let units = Int((value * scale).rounded())
        let whole = units / Int(scale), fraction = units % Int(scale)
        guard digits > 0 else { return "\(whole)" }
        let text = String(fraction)
        return "\(whole)." + String(repeating: "0", count: digits - text.count) + text
    }
}
