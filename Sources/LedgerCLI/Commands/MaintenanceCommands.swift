// `ledger snapshot` and `ledger replay`: maintenance of the derived files.

import LedgerDomain
import LedgerEngine

enum SnapshotCommand: Subcommand {
    static let name = "snapshot"
    static let summary = "write a snapshot of every account now"
    static let usage = "snapshot [--json]"
    static let options: [OptionSpec] = []
    static let help = """
        Writes the state of every account at the head to snapshots/ (checksummed,
        fsynced, renamed into place) and makes the views durable through the head.
        Snapshots are also written every snapshot_every events (ledger config).
        Retention: the newest 10, and older ones at every 10th multiple of snapshot_every.

        example:
          ledger snapshot
        """

    static func run(_ args: Arguments, _ context: Context) throws -> Int32 {
        try args.expectPositionals(0...0, usage: usage)
        let r = try context.ledger.snapshot()
        if context.json {
            context.console.out(JSON.object([
                ("position", .uint(r.position)), ("timestamp", .string(Timestamp(micros: r.timestampMicros).rfc3339)),
                ("accounts", .int(Int64(r.accounts))), ("bytes", .int(Int64(r.bytes))),
            ]).rendered())
        } else {
            context.console.out("snapshot at position \(r.position): \(r.accounts) accounts, \(r.bytes) bytes")
        }
        return ExitStatus.success
    }
}

enum ReplayCommand: Subcommand {
    static let name = "replay"
    static let summary = "rebuild the views (and with --snapshots, the snapshots) from the log"
    static let usage = "replay [--view NAME] [--snapshots] [--json]"
    static let options = [OptionSpec(name: "--view", takesValue: true), OptionSpec(name: "--snapshots", takesValue: false)]
    static let help = """
        Folds the whole log from position 1 and rewrites the views: `accounts` (current
        state by account), `ids` (idempotency keys) and `history` (each account's
        state after each of its events). --view NAME rewrites only that one (the others
        keep their own checkpoints). With --snapshots, every snapshot is deleted and
        the retained ones are written again. Shows progress on stderr when it is a
        terminal (events/s, time left). The result is byte-identical to the views kept
        incrementally.

        examples:
          ledger replay
          ledger replay --view history
          ledger --json replay --snapshots | jq .events_per_second
        """

    static func run(_ args: Arguments, _ context: Context) throws -> Int32 {
        try args.expectPositionals(0...0, usage: usage)
        let console = context.console
        let line = console.stderrIsTerminal ? ProgressLine("replay", console: console) : nil
        let progress: ((UInt64, UInt64) -> Void)? = line.map { line in { line.update(done: $0, total: $1) } }
        let r = try context.ledger.replay(view: args.value("--view"), snapshots: args.has("--snapshots"), progress: progress)
        let rate = r.seconds > 0 ? Double(r.events) / r.seconds : 0
        if context.json {
            context.console.out(JSON.object([
                ("events", .uint(r.events)), ("views", .array(r.views.map(JSON.string))),
                ("snapshots_written", .int(Int64(r.snapshotsWritten))),
                ("seconds", .string(String(Double(Int(r.seconds * 1000)) / 1000))),
                ("events_per_second", .int(Int64(rate))),
            ]).rendered())
        } else {
            context.console.out("replayed \(r.events) events into \(r.views.joined(separator: ", "))\(r.snapshotsWritten > 0 ? ", \(r.snapshotsWritten) snapshots" : "") in \(Double(Int(r.seconds * 1000)) / 1000) s")
        }
        return ExitStatus.success
    }
}
