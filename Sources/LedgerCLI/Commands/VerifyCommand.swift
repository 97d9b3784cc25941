// `ledger verify`: every CRC, dense positions, monotonic timestamps, index
// agreement and the hash chain; exit 0 only when all is sound, else 4.

import LedgerEngine

enum VerifyCommand: Subcommand {
    static let name = "verify"
    static let summary = "check every record, the indexes and the hash chain"
    static let usage = "verify [--expect-head POSITION:HASH] [--json]"
    static let options = [OptionSpec(name: "--expect-head", takesValue: true)]
    static let help = """
        Reads the whole log and checks each record's length and CRC32C, that positions
        are dense and timestamps never go backwards, that every index entry agrees
        with its record, and the SHA-256 hash chain from the first record. Prints one
        line per problem (file, byte offset, position) and exits 4 if there is any.

        --expect-head POSITION:HASH   also prove that history up to POSITION is the one
                                      whose head `ledger info` printed then

        examples:
          ledger verify
          ledger verify --expect-head "$(cat head.txt)"
        """

    static func run(_ args: Arguments, _ context: Context) throws -> Int32 {
        try args.expectPositionals(0...0, usage: usage)
        let console = context.console
        let line = console.stderrIsTerminal ? ProgressLine("verify", console: console) : nil
        let progress: ((UInt64, UInt64) -> Void)? = line.map { line in
            { done, total in if done % 65_536 == 0 || done == total { line.update(done: done, total: total) } }
        }
        let report = try context.ledger.verify(expectHead: args.value("--expect-head"), progress: progress)
        let ok = report.isSound
        if context.json {
            context.console.out(JSON.object([
                ("ok", .bool(ok)), ("events", .uint(report.records)), ("batches", .int(Int64(report.batches))),
                ("segments", .int(Int64(report.segments))), ("bytes", .int(Int64(report.bytes))),
                ("head", .string(report.head.text)),
                ("expected_head_matched", report.expectedHeadMatched.map(JSON.bool) ?? .null),
                ("problems", .array(report.problems.map(JSON.string))),
                ("notes", .array(report.notes.map(JSON.string))),
            ]).rendered())
        } else {
            for note in report.notes { context.console.err("ledger: note: \(note)") }
            for problem in report.problems { context.console.out("problem: \(problem)") }
            context.console.out(ok
                ? "ok: \(report.records) events in \(report.batches) batches, \(report.segments) segments, head \(report.head.text)"
                : "FAILED: \(report.problems.count) problem(s)")
        }
        return ok ? ExitStatus.success : ExitStatus.integrity
    }
}
