// The progress lines long commands (replay, verify, import) draw on stderr when it is a
// terminal: how far, how fast, how long still to go.

import LedgerEngine

/// One line of stderr redrawn in place (a shorter text covers the longer one before it).
final class TerminalLine {
    private let console: Console
    private var width = 0

    init(console: Console) { self.console = console }

    func draw(_ text: String) {
        let count = text.count
        console.errPartial("\r" + text + String(repeating: " ", count: max(0, width - count)))
        width = count
    }

    /// Ends the line (if one was drawn).
    func end() {
        if width > 0 { console.errPartial("\n") }
        width = 0
    }
}

/// Redraws one line on a terminal as `done` grows towards `total`.
final class ProgressLine {
    private let label: String
    private let line: TerminalLine
    private let clock: Clock
    private let started: Int64

    init(_ label: String, console: Console, clock: Clock = .system) {
        self.label = label
        line = TerminalLine(console: console)
        self.clock = clock
        started = clock.nowMicros()
    }

    /// Draws the line for `done` of `total` events (the last one ends it with a newline).
    func update(done: UInt64, total: UInt64) {
        let seconds = Double(clock.nowMicros() - started) / 1e6
        line.draw(Self.text(label, done: done, total: total, seconds: seconds))
        if done >= total { line.end() }
    }

    /// "replay: 524288/1000000 events (52%), 2.10 M events/s, 0.2 s left"; the rate and time
    /// left once there is a rate to tell them from.
    static func text(_ label: String, done: UInt64, total: UInt64, seconds: Double) -> String {
        let percent = total == 0 ? 100 : Int(min(done, total) * 100 / total)
        var line = "\(label): \(done)/\(total) events (\(percent)%)"
        guard done > 0, seconds > 0 else { return line }
        line += ", " + rate(Double(done), seconds, "events")
        if done < total { line += ", \(fixed(Double(total - done) / (Double(done) / seconds), 1)) s left" }
        return line
    }

    /// "2.10 M events/s" from a million up, else "600 events/s".
    static func rate(_ count: Double, _ seconds: Double, _ unit: String) -> String {
        let r = count / seconds
        return r >= 1e6 ? "\(fixed(r / 1e6, 2)) M \(unit)/s" : "\(Int(r)) \(unit)/s"
    }

    /// `value` with `digits` decimals (no Foundation formatting).
    static func fixed(_ value: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let units = Int((value * scale).rounded())
        let whole = units / Int(scale), fraction = units % Int(scale)
        guard digits > 0 else { return "\(whole)" }
        let text = String(fraction)
        return "\(whole)." + String(repeating: "0", count: digits - text.count) + text
    }
}

/// `ledger import`'s line on a terminal: while lines are checked, how many, how much of the
/// input is read (of a file of known size), how fast and how long still to go; then, as the
/// checked lines are written in durable batches, how far that has come.
final class ImportProgress {
    private let line: TerminalLine
    private let input: InputFile
    private let clock: Clock
    private let started: Int64
    private var drawn: Int64 = 0
    private var lastLine = 0

    init(console: Console, input: InputFile, clock: Clock = .system) {
        line = TerminalLine(console: console)
        self.input = input
        self.clock = clock
        started = clock.nowMicros()
    }

    /// Lines through `line` are checked (drawn at most ten times a second).
    func validated(line: Int) {
        lastLine = line
        let now = clock.nowMicros()
        guard now - drawn >= 100_000 else { return }
        drawn = now
        self.line.draw(Self.validating(line: line, bytesRead: input.bytesRead.load(ordering: .relaxed), size: input.size,
                                       seconds: Double(now - started) / 1e6))
    }

    /// The batch through `line` is durable, at log position `position`.
    func committed(line: Int, position: UInt64) {
        self.line.draw(Self.committing(line: line, of: lastLine, position: position))
    }

    /// Ends the line (if one was drawn).
    func end() { line.end() }

    /// "import: checking line 512000, 45% of 114.1 MB read, 0.52 M lines/s, 1.2 s left"
    static func validating(line: Int, bytesRead: Int, size: Int?, seconds: Double) -> String {
        var text = "import: checking line \(line)"
        if let size, size > 0 {
            let read = min(bytesRead, size)
            text += ", \(read * 100 / size)% of \(ProgressLine.fixed(Double(size) / 1e6, 1)) MB read"
            if seconds > 0, read > 0, read < size {
                text += ", " + ProgressLine.rate(Double(line), seconds, "lines") + ", \(ProgressLine.fixed(Double(size - read) / (Double(read) / seconds), 1)) s left"
                return text
            }
        }
        if seconds > 0, line > 0 { text += ", " + ProgressLine.rate(Double(line), seconds, "lines") }
        return text
    }

    /// "import: committed through line 20000 of 1000000, position 20000"
    static func committing(line: Int, of total: Int, position: UInt64) -> String {
        "import: committed through line \(line)" + (total >= line ? " of \(total)" : "") + ", position \(position)"
    }
}
