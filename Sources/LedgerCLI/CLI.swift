// Entry point of the command line: global options, dispatch to one command,
// errors to stderr with the documented exit code. Only parses, calls and prints.

import LedgerEngine
import LedgerStorage

struct Context {
    let layout: StoreLayout
    let console: Console
    let environment: [String: String]
    let ledger: Ledger
    var json: Bool { console.json }
}

protocol Subcommand {
    static var name: String { get }
    static var summary: String { get }
    static var usage: String { get }
    static var help: String { get }
    static var options: [OptionSpec] { get }
    static func run(_ args: Arguments, _ context: Context) throws -> Int32
}

public enum CLI {
    static let commands: [any Subcommand.Type] = [
        OpenCommand.self, CloseCommand.self, DepositCommand.self, WithdrawCommand.self, TransferCommand.self, ReverseCommand.self,
        BalanceCommand.self, HistoryCommand.self, LogCommand.self, ImportCommand.self, ExportCommand.self, SnapshotCommand.self, ReplayCommand.self, ConfigCommand.self,
        InfoCommand.self, VerifyCommand.self,
    ]

    static let globalOptions = [
        OptionSpec(name: "--dir", takesValue: true),
        OptionSpec(name: "--json", takesValue: false),
        OptionSpec(name: "--help", takesValue: false),
        OptionSpec(name: "-h", takesValue: false),
    ]

    /// Runs one command line; returns the process exit code.
    public static func run(_ argv: [String], environment: [String: String]) -> Int32 {
        var json = environment["LEDGER_FORMAT"] == "json"
        var dir: String?
        var help = false
        var rest: [String] = []
        // Global options may appear anywhere before `--`.
        var i = 0
        var usageError: String?
        while i < argv.count {
            let arg = argv[i]
            i += 1
            if arg == "--" { rest += argv[(i - 1)...]; break }
            if arg == "--json" { json = true } else if arg == "--help" || arg == "-h" { help = true } else if arg == "--dir" {
                if i < argv.count { dir = argv[i]; i += 1 } else { usageError = "option --dir needs a value" }
            } else if arg.hasPrefix("--dir=") { dir = String(arg.dropFirst(6)) } else { rest.append(arg) }
        }
        let console = Console(json: json)
        defer { console.flush() }
        if let usageError { return report(.usage(usageError), console) }
        guard let name = rest.first else {
            console.out(topHelp)
            return help ? ExitStatus.success : ExitStatus.usage
        }
        if name == "help" {
            if rest.count > 1, let command = commands.first(where: { $0.name == rest[1] }) {
                console.out(commandHelp(command))
            } else {
                console.out(topHelp)
            }
            return ExitStatus.success
        }
        guard let command = commands.first(where: { $0.name == name }) else {
            return report(.usage("unknown command '\(name)'; run `ledger --help` for the list"), console)
        }
        if help {
            console.out(commandHelp(command))
            return ExitStatus.success
        }
        let layout = StoreLayout.resolve(flag: dir, environment: environment)
        let timeout = environment["LEDGER_LOCK_TIMEOUT_MS"].flatMap(Int.init) ?? Limits.lockTimeoutMillisDefault
        let clock = environment["LEDGER_NOW_MICROS"].flatMap(Int64.init).map(Clock.fixed) ?? .system
        let ledger = Ledger(layout: layout, lockTimeoutMillis: max(0, timeout), clock: clock)
        let context = Context(layout: layout, console: console, environment: environment, ledger: ledger)
        do {
            let args = try Arguments.parse(Array(rest.dropFirst()), options: command.options)
            let status = try command.run(args, context)
            printNotes(ledger, console)
            return status
        } catch let error as LedgerError {
            printNotes(ledger, console)
            return report(error, console)
        } catch {
            return report(.io(SystemError("unexpected: \(error)", path: layout.root, errno: 0)), console)
        }
    }

    static func printNotes(_ ledger: Ledger, _ console: Console) {
        for note in ledger.notes { console.err("ledger: note: \(note)") }
    }

    static func report(_ error: LedgerError, _ console: Console) -> Int32 {
        if console.json {
            console.err(JSON.object([("error", .object([
                ("code", .string(ExitStatus.errorCode(for: error))), ("message", .string(error.description)),
            ]))]).rendered())
        } else {
            console.err("ledger: \(error.description)")
        }
        return ExitStatus.code(for: error)
    }

    static func commandHelp(_ command: any Subcommand.Type) -> String {
        "usage: ledger \(command.usage)\n\n\(command.summary)\n\n\(command.help)"
    }

    static var topHelp: String {
        var lines = [
            "ledger: an event-sourced, append-only money ledger in flat files",
            "",
            "usage: ledger [--dir DIR] [--json] COMMAND [ARGS...]",
            "",
            "commands:",
        ]
        for c in commands { lines.append("  " + c.name.padding(12) + c.summary) }
        lines += [
            "",
            "global options:",
            "  --dir DIR    the store directory (else $LEDGER_DIR, else ~/.ledger)",
            "  --json       machine-readable output (also LEDGER_FORMAT=json)",
            "  -h, --help   help for ledger or for one command (`ledger help COMMAND`)",
            "",
            "exit codes: 0 ok, 1 rejected, 2 usage, 3 busy/version conflict, 4 corruption, 5 I/O",
        ]
        return lines.joined(separator: "\n")
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
