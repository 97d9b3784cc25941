// `ledger import` and `ledger export`.

import LedgerDomain
import LedgerEngine
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

enum ImportCommand: Subcommand {
    static let name = "import"
    static let summary = "apply many operations in one locked, fsync-batched run"
    static let usage = "import [FILE|-] [--format ndjson|csv] [--continue-on-error] [--json]"
    static let options = [OptionSpec(name: "--format", takesValue: true), OptionSpec(name: "--continue-on-error", takesValue: false)]
    static let help = """
        Reads operations, one per line, from FILE (or standard input):
          {"op":"open","account":"acc_1","currency":"USD","scale":2,"overdraft":"0.00","at":"2020-01-01T00:00:00Z"}
          {"op":"deposit","account":"acc_1","amount":"12.34","at":"…","id":"op-1","memo":"…"}
          {"op":"withdraw","account":"acc_1","amount":"2.00"}
          {"op":"transfer","from":"acc_1","to":"acc_2","amount":"5.00"}
          {"op":"close","account":"acc_1"}
        CSV has the same fields as columns, named by a header line.

        All or nothing by default: every line is checked against the state including
        the lines before it; one bad line stops the import with its line number
        (exit 1 or 2) and nothing is appended. --continue-on-error applies the good
        lines and prints one {"line", "error"} object per rejected line (exit 1 if any).
        A line whose id was already recorded with the same fields is a duplicate and
        skipped, so an interrupted import can be run again to completion.

        Written in durable batches of 10000 (one fdatasync each); with --json each
        batch is acknowledged by {"committed_through_line": N, "position": P}. On a
        terminal, stderr shows the lines checked (share of the file read, lines/s,
        time left), then the batches committed.

        examples:
          ledger import history.ndjson
          ledger --json import - < ops.ndjson
          ledger import ops.csv --format csv --continue-on-error
        """

    static func run(_ args: Arguments, _ context: Context) throws -> Int32 {
        try args.expectPositionals(0...1, usage: usage)
        let path = args.positionals.first ?? "-"
        let format: ImportFormat
        if let f = args.value("--format") {
            guard let parsed = ImportFormat(rawValue: f) else { throw LedgerError.usage("--format must be ndjson or csv, got '\(f)'") }
            format = parsed
        } else {
            format = path.hasSuffix(".csv") ? .csv : .ndjson
        }
        let input = try InputFile(path)
        let console = context.console
        let progress = console.stderrIsTerminal && !context.json ? ImportProgress(console: console, input: input) : nil
        let summary = try context.ledger.importOperations(reading: input.read, format: format, continueOnError: args.has("--continue-on-error"),
            inputBytes: input.size,
            validated: { line in progress?.validated(line: line) },
            committed: { line, position in
                if context.json {
                    console.out(JSON.object([("committed_through_line", .int(Int64(line))), ("position", .uint(position))]).rendered())
                    console.flush()
                } else {
                    progress?.committed(line: line, position: position)
                }
            },
            rejected: { line, error in
                console.out(JSON.object([("line", .int(Int64(line))), ("error", .object([
                    ("code", .string(ExitStatus.errorCode(for: error))), ("message", .string(error.description)),
                ]))]).rendered())
            })
        progress?.end()
        if context.json {
            console.out(JSON.object([
                ("lines", .int(Int64(summary.lines))), ("imported", .int(Int64(summary.imported))),
                ("duplicates", .int(Int64(summary.duplicates))), ("rejected", .int(Int64(summary.rejected))),
                ("position", .uint(summary.position)),
            ]).rendered())
        } else {
            console.out("imported \(summary.imported) of \(summary.lines) operations (\(summary.duplicates) duplicates, \(summary.rejected) rejected); head at position \(summary.position)")
        }
        return summary.rejected > 0 ? ExitStatus.rejected : ExitStatus.success
    }
}

/// The file (or standard input, "-") an import reads, chunk by chunk.
final class InputFile: Sendable {
    let path: String
    private let fd: Int32
    /// The file's size when it is a regular file (nil for a pipe).
    let size: Int?
    /// Bytes read so far (by the parsing thread; the progress line reads it on another).
    let bytesRead = Atomic<Int>(0)

    init(_ path: String) throws {
        self.path = path
        fd = path == "-" ? 0 : open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw LedgerError.usage("cannot open \(path): \(String(cString: strerror(errno)))") }
        var st = stat()
        size = fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG ? Int(st.st_size) : nil
    }

    deinit { if fd != 0 { close(fd) } }

    /// Reads into `buffer`; 0 at the end.
    func read(_ buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 {
                bytesRead.add(n, ordering: .relaxed)
                return n
            }
            if errno == EINTR { continue }
            throw LedgerError.usage("cannot read \(path): \(String(cString: strerror(errno)))")
        }
    }
}

enum ExportCommand: Subcommand {
    static let name = "export"
    static let summary = "write the history out (ndjson, csv, or a journal for hledger/ledger-cli)"
    static let usage = "export [--format ndjson|csv|journal]"
    static let options = [OptionSpec(name: "--format", takesValue: true)]
    static let help = """
        Prints every event in log order. ndjson (default) and csv are the import format
        with each event's time in "at": export, then import into an empty store, gives the
        same events, balances and as-of answers. journal is plain-text double entry
        (assets:ACCOUNT against equity:deposits / equity:withdrawals) that hledger and
        ledger-cli read and that gives the same balances.

        examples:
          ledger export > backup.ndjson
          ledger export --format journal > books.journal && hledger -f books.journal balance
        """

    static func run(_ args: Arguments, _ context: Context) throws -> Int32 {
        try args.expectPositionals(0...0, usage: usage)
        let text = args.value("--format") ?? "ndjson"
        guard let format = ExportFormat(rawValue: text) else { throw LedgerError.usage("--format must be ndjson, csv or journal, got '\(text)'") }
        let console = context.console
        switch format {
        case .csv: console.out(ExportRender.csvHeader)
        case .journal: ExportRender.journalPreamble.forEach(console.out)
        case .ndjson: break
        }
        // Written straight into the output, a buffer at a time (no String per line).
        try console.out(endingLine: false) { out in
            try context.ledger.exportEvents { recorded, line, accounts in
                switch format {
                case .ndjson: ExportRender.ndjson(line, into: &out)
                case .csv: ExportRender.csv(line, into: &out)
                case .journal: ExportRender.journal(recorded, accounts: accounts, into: &out)
                }
                out.reserve(1)
                out.byte(0x0A)
            }
        }
        return ExitStatus.success
    }
}
