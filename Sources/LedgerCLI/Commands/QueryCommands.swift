// Read-only commands: balance, history, log. They take no lock.

import LedgerDomain
import LedgerEngine

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

enum BalanceCommand: Subcommand {
    static let name = "balance"
    static let summary = "balances now, or as they were at a time or position"
    static let usage = "balance [ACCOUNT...] [--as-of TIME | --at-position N] [--json]"
    static let options = [OptionSpec(name: "--as-of", takesValue: true), OptionSpec(name: "--at-position", takesValue: true)]
    static let help = """
        Prints each account's balance, currency and version (its count of events).
        With no ACCOUNT, every account, sorted by name. An unknown ACCOUNT is
        unknown_account (exit 1).

          --as-of TIME       as it was after every event with timestamp <= TIME
                             (RFC 3339, or a date meaning the end of that day, UTC)
          --at-position N    as it was after the event at position N

        As-of answers start from the newest snapshot at or before that point and fold
        only the events after it. Before the first event the answer is empty (no
        accounts); an account named explicitly that was opened later shows 0, version 0.

        JSON: {"as_of", "position", "snapshot_position", "replayed",
               "accounts": [{"account", "balance", "currency", "version"}]}

        examples:
          ledger balance
          ledger balance alice bob --as-of 2024-03-31
          ledger --json balance --at-position 1000 | jq -r '.accounts[] | "\\(.account) \\(.balance)"'
        """

    static func run(_ args: Arguments, _ context: Context) throws -> Int32 {
        let ids = try args.positionals.map(Parse.account)
        let asOf = try args.value("--as-of").map { try Parse.time($0, option: "--as-of", endOfDay: true) }
        let atPosition = try args.integer("--at-position", 0...Int64.max).map { UInt64($0) }
        if asOf != nil && atPosition != nil { throw LedgerError.usage("give --as-of or --at-position, not both") }
        let answer: BalanceAnswer
        var asOfText: String
        if let asOf {
            answer = try context.ledger.balances(ids, asOf: asOf)
            asOfText = asOf.rfc3339
        } else if let atPosition {
            let (a, time) = try context.ledger.balances(ids, atPosition: atPosition)
            answer = a
            asOfText = time.map { Timestamp(micros: $0).rfc3339 } ?? ""
        } else {
            answer = try context.ledger.balances(ids)
            asOfText = Timestamp(micros: context.ledger.clock.nowMicros()).rfc3339
        }
        if context.json {
            // One buffer: the answer's fields, then its accounts rendered straight after them.
            var head: [UInt8] = []
            JSON.object([
                ("as_of", asOfText.isEmpty ? .null : .string(asOfText)),
                ("position", .uint(answer.position)),
                ("snapshot_position", answer.startPosition.map(JSON.uint) ?? .null),
                ("replayed", .uint(answer.replayed)),
            ]).render(into: &head)
            head.removeLast()
            context.console.out { out in
                head.withUnsafeBufferPointer { out.reserve($0.count); out.bytes($0) }
                out.reserve(16)
                out.literal(#","accounts":["#)
                for i in answer.accounts.indices {
                    if i > 0 { out.reserve(1); out.byte(UInt8(ascii: ",")) }
                    EventJSON.renderAccount(answer.accounts[i], into: &out)
                }
                out.reserve(2)
                out.literal("]}")
            }
        } else {
            if asOf != nil || atPosition != nil {
                context.console.out("as of \(asOfText.isEmpty ? "the beginning" : asOfText) (position \(answer.position))")
            }
            context.console.out {
                TextTable.write(BalanceRows.header, BalanceRows(accounts: answer.accounts), rightAligned: BalanceRows.rightAligned, into: &$0)
            }
        }
        return ExitStatus.success
    }
}

enum HistoryCommand: Subcommand {
    static let name = "history"
    static let summary = "an account's events with the running balance"
    static let usage = "history ACCOUNT [--since TIME] [--until TIME] [--limit N] [--json]"
    static let options = [
        OptionSpec(name: "--since", takesValue: true), OptionSpec(name: "--until", takesValue: true),
        OptionSpec(name: "--limit", takesValue: true),
    ]
    static let help = """
        Lists ACCOUNT's events oldest first, each with the balance after it.
          --since TIME   only events at or after TIME (a date means its start)
          --until TIME   only events at or before TIME (a date means its end, inclusive)
          --limit N      at most N lines

        JSON: one object per line (NDJSON), a `log` line plus "balance".

        examples:
          ledger history alice
          ledger history alice --since 2024-03-01 --until 2024-03-31
          ledger --json history alice | jq -r .balance | tail -1
        """

    static func run(_ args: Arguments, _ context: Context) throws -> Int32 {
        try args.expectPositionals(1...1, usage: usage)
        let id = try Parse.account(args.positionals[0])
        let since = try args.value("--since").map { try Parse.time($0, option: "--since", endOfDay: false) }
        let until = try args.value("--until").map { try Parse.time($0, option: "--until", endOfDay: true) }
        let limit = try args.integer("--limit", 1...Int64(Int32.max)).map(Int.init)
        let (account, lines) = try context.ledger.history(id, since: since, until: until, limit: limit)
        let accounts = [id: account]
        if context.json {
            for line in lines {
                var f = EventJSON.fields(line.recorded, accounts: accounts)
                f.append(("balance", .string(account.format(line.balance))))
                context.console.out(JSON.object(f).rendered())
            }
        } else {
            let rows: [[String]] = lines.map { line in
                let e = line.recorded
                var amount = ""
                var detail = ""
                switch e.event.body {
                case .accountOpened: detail = "opened"
                case .accountClosed: detail = "closed"
                case .moneyDeposited(_, let a): amount = account.format(a)
                case .moneyWithdrawn(_, let a): amount = "-" + account.format(a)
                case .moneyTransferred(let from, let to, let a):
                    amount = from == id ? "-" + account.format(a) : account.format(a)
                    detail = from == id ? "to \(to)" : "from \(from)"
                case .moneyReversed(let reverses, let from, _, let a):
                    amount = from == id ? "-" + account.format(a) : account.format(a)
                    detail = "reverses position \(reverses)"
                }
                if let memo = e.event.metadata.memo { detail += detail.isEmpty ? memo : " · " + memo }
                return [String(e.position), e.timestamp.rfc3339, e.event.body.typeName, amount, account.format(line.balance), detail]
            }
            context.console.out(bytes: TextTable.render(["POSITION", "TIME", "EVENT", "AMOUNT", "BALANCE", "DETAIL"], rows, rightAligned: [0, 3, 4]))
        }
        return ExitStatus.success
    }
}

enum LogCommand: Subcommand {
    static let name = "log"
    static let summary = "the global event feed as NDJSON; --follow keeps printing new events"
    static let usage = "log [--from-position N] [--follow]"
    static let options = [OptionSpec(name: "--from-position", takesValue: true), OptionSpec(name: "--follow", takesValue: false)]
    static let help = """
        Prints every event from position N (default 1) as one JSON object per line:
        position, timestamp, type and the event's fields (account or from/to, amount,
        currency, id, memo where set). With --follow, keeps printing events as other
        processes append them, until interrupted.

        examples:
          ledger log | jq -c 'select(.type == "MoneyTransferred")'
          ledger log --from-position 1000 --follow
        """

    static func run(_ args: Arguments, _ context: Context) throws -> Int32 {
        try args.expectPositionals(0...0, usage: usage)
        var next = UInt64(try args.integer("--from-position", 1...Int64.max) ?? 1)
        let follow = args.has("--follow")
        if follow {
            // Until interrupted: a parent may have left SIGINT/SIGTERM ignored or blocked; Ctrl-C must stop us.
            var set = sigset_t()
            sigemptyset(&set)
            for s in [SIGINT, SIGTERM, SIGPIPE] {
                signal(s, SIG_DFL)
                sigaddset(&set, s)
            }
            pthread_sigmask(SIG_UNBLOCK, &set, nil)
        }
        while true {
            // Each pass's events rendered straight into the output, a buffer at a time.
            var head: UInt64 = 0
            try context.console.out(endingLine: false) { out in
                head = try context.ledger.events(from: next) { recorded, accounts in
                    JSON.object(EventJSON.fields(recorded, accounts: accounts)).render(into: &out)
                    out.reserve(1)
                    out.byte(0x0A)
                    return true
                }
            }
            next = max(next, head + 1)
            guard follow else { return ExitStatus.success }
            context.console.flush()
            usleep(100_000)
        }
    }
}

enum ConfigCommand: Subcommand {
    static let name = "config"
    static let summary = "read or set store settings"
    static let usage = "config [KEY [VALUE]] [--json]"
    static let options: [OptionSpec] = []
    static let help = """
        Without arguments prints every setting; with KEY prints one; with KEY VALUE sets it.
          snapshot_every     events between snapshots (default 10000)
          default_currency   currency of new accounts (default USD)
          default_scale      decimal places of new accounts (default 2)
          segment_bytes      log segment roll-over size (default 67108864)

        examples:
          ledger config
          ledger config default_currency EUR
          ledger --json config | jq .segment_bytes
        """

    static func run(_ args: Arguments, _ context: Context) throws -> Int32 {
        try args.expectPositionals(0...2, usage: usage)
        var config = try context.ledger.config()
        let p = args.positionals
        if p.count == 2 {
            config = try context.ledger.setConfig(p[0], to: p[1])
        } else if p.count == 1, config.value(of: p[0]) == nil {
            throw LedgerError.usage("unknown config key '\(p[0])' (known: \(StoreConfig.keys.joined(separator: ", ")))")
        }
        let keys = p.isEmpty ? StoreConfig.keys : [p[0]]
        if context.json {
            context.console.out(JSON.object(keys.map { key in
                let v = config.value(of: key)!
                return (key, Int64(v).map(JSON.int) ?? .string(v))
            }).rendered())
        } else if p.count == 1 {
            context.console.out(config.value(of: p[0])!)
        } else {
            for key in keys { context.console.out("\(key) = \(config.value(of: key)!)") }
        }
        return ExitStatus.success
    }
}
