// `ledger info`: counts, positions, sizes, segments and the hash chain head.

import LedgerDomain
import LedgerEngine

enum InfoCommand: Subcommand {
    static let name = "info"
    static let summary = "counts, positions, sizes, segments, snapshots, views and the chain head"
    static let usage = "info [--json]"
    static let options: [OptionSpec] = []
    static let help = """
        Prints what the store holds. The head (POSITION:HASH) is the SHA-256 hash chain
        value after the last record: keep it somewhere else and later run
        `ledger verify --expect-head POSITION:HASH` to prove nothing up to it changed.

        examples:
          ledger info
          ledger --json info | jq -r .head
        """

    static func run(_ args: Arguments, _ context: Context) throws -> Int32 {
        try args.expectPositionals(0...0, usage: usage)
        let info = try context.ledger.info()
        let time = { (t: Int64?) in t.map { Timestamp(micros: $0).rfc3339 } }
        if context.json {
            let segments = info.segments.map {
                JSON.object([("name", .string($0.name)), ("first_position", .uint($0.firstPosition)),
                             ("records", .uint($0.records)), ("bytes", .int(Int64($0.bytes)))])
            }
            context.console.out(JSON.object([
                ("store", .string(info.store)), ("events", .uint(info.records)), ("head", .string(info.head)),
                ("first_timestamp", .optional(time(info.firstTimestampMicros))),
                ("last_timestamp", .optional(time(info.lastTimestampMicros))),
                ("bytes", .int(Int64(info.bytes))), ("segments", .array(segments)),
                ("snapshots", .array(info.snapshots.map {
                    JSON.object([("position", .uint($0.position)), ("timestamp", .optional(time($0.timestampMicros))),
                                 ("bytes", .int(Int64($0.bytes)))])
                })),
                ("views", .array(info.views.map {
                    JSON.object([("name", .string($0.name)), ("checkpoint", $0.checkpoint.map(JSON.uint) ?? .null),
                                 ("bytes", .int(Int64($0.bytes)))])
                })),
            ]).rendered())
        } else {
            let c = context.console
            c.out("store     \(info.store)")
            c.out("events    \(info.records)")
            c.out("head      \(info.head)")
            c.out("first     \(time(info.firstTimestampMicros) ?? "-")")
            c.out("last      \(time(info.lastTimestampMicros) ?? "-")")
            c.out("bytes     \(info.bytes)")
            c.out("segments  \(info.segments.count)")
            for s in info.segments {
                c.out("  \(s.name)  first \(s.firstPosition)  records \(s.records)  bytes \(s.bytes)")
            }
            c.out("snapshots \(info.snapshots.count)")
            for s in info.snapshots {
                c.out("  position \(s.position)  \(time(s.timestampMicros) ?? "-")  bytes \(s.bytes)")
            }
            c.out("views")
            for v in info.views {
                c.out("  \(v.name)  checkpoint \(v.checkpoint.map(String.init) ?? "missing")  bytes \(v.bytes)")
            }
        }
        return ExitStatus.success
    }
}
