// The commands that append one event: open, close, deposit, withdraw, transfer.
// Each parses, builds a request, calls the engine, and prints the result.

import LedgerDomain
import LedgerEngine

enum AppendOptions {
    static let common = [
        OptionSpec(name: "--at", takesValue: true), OptionSpec(name: "--id", takesValue: true),
        OptionSpec(name: "--memo", takesValue: true), OptionSpec(name: "--correlation-id", takesValue: true),
        OptionSpec(name: "--causation-id", takesValue: true),
    ]
    static let money = common + [OptionSpec(name: "--expect-version", takesValue: true)]

    static let help = """
        common options:
          --at TIME             the event's time (RFC 3339 or a date); not before the last event
          --id KEY              idempotency key: repeating the command appends nothing
          --memo TEXT           a note stored with the event
          --correlation-id ID, --causation-id ID   tracing metadata stored with the event
        """

    static func text(_ args: Arguments, _ name: String) throws -> String? {
        guard let v = args.value(name) else { return nil }
        guard !v.isEmpty, v.utf8.count <= EventMetadata.textBytesMax, !v.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\t" }) else {
            throw LedgerError.usage("\(name) must be 1-\(EventMetadata.textBytesMax) bytes without control characters")
        }
        return v
    }

    static func options(_ args: Arguments) throws -> CommandOptions {
        var o = CommandOptions()
        o.metadata.id = try text(args, "--id")
        o.metadata.memo = try text(args, "--memo")
        o.metadata.correlationID = try text(args, "--correlation-id")
        o.metadata.causationID = try text(args, "--causation-id")
        if let v = try args.integer("--expect-version", 0...Int64.max) { o.expectVersion = UInt64(v) }
        return o
    }

    static func at(_ args: Arguments) throws -> Timestamp? {
        guard let text = args.value("--at") else { return nil }
        return try Parse.time(text, option: "--at", endOfDay: false)
    }

    static func run(_ command: LedgerDomain.Command, _ args: Arguments, _ context: Context) throws -> Int32 {
        let result = try context.ledger.append(AppendRequest(command: command, options: try options(args), at: try at(args)))
        context.console.out(context.json ? EventJSON.appendResult(result).rendered() : EventJSON.appendText(result))
        return ExitStatus.success
    }
}

/// Parsing of user values into domain values, with usage errors that name the argument.
enum Parse {
    static func account(_ text: String) throws -> AccountID {
        do { return try AccountID(validating: text) } catch let e as DomainError { throw LedgerError.usage(e.description) }
    }

    static func amount(_ text: String) throws -> DecimalText {
        do {
            let d = try DecimalText.parse(text)
            guard d.units > 0 else { throw LedgerError.usage("bad amount '\(text)': must be greater than zero") }
            return d
        } catch DecimalText.ParseError.invalid(let m) { throw LedgerError.usage(m) }
    }

    static func time(_ text: String, option: String, endOfDay: Bool) throws -> Timestamp {
        do { return try Timestamp.parse(text, dateIsEndOfDay: endOfDay) } catch Timestamp.ParseError.invalid(let m) {
            throw LedgerError.usage("\(option): \(m)")
        }
    }
}

enum OpenCommand: Subcommand {
    static let name = "open"
    static let summary = "open an account"
    static let usage = "open ACCOUNT [--currency CODE] [--scale N] [--overdraft AMOUNT] [--at TIME] [--id KEY] [--memo TEXT]"
    static let options = AppendOptions.common + [
        OptionSpec(name: "--currency", takesValue: true), OptionSpec(name: "--scale", takesValue: true),
        OptionSpec(name: "--overdraft", takesValue: true),
    ]
    static let help = """
        Opens ACCOUNT (1-64 characters from A-Z a-z 0-9 _ - . : /). Currency and scale
        (decimal places) default to the store's default_currency and default_scale.
        --overdraft AMOUNT lets the balance go down to -AMOUNT.

        \(AppendOptions.help)

        examples:
          ledger open alice
          ledger open yen-wallet --currency JPY --scale 0
          ledger open ops --overdraft 500.00 --id open-ops
        """

    static func run(_ args: Arguments, _ context: Context) throws -> Int32 {
        try args.expectPositionals(1...1, usage: usage)
        let config = try context.ledger.config()
        let currency: Currency
        do { currency = try Currency(validating: args.value("--currency") ?? config.defaultCurrency) } catch let e as DomainError { throw LedgerError.usage(e.description) }
        let scale = Int(try args.integer("--scale", 0...Int64(Decide.scaleMax)) ?? Int64(config.defaultScale))
        let overdraft: DecimalText?
        if let o = args.value("--overdraft") {
            do { overdraft = try DecimalText.parse(o) } catch DecimalText.ParseError.invalid(let m) { throw LedgerError.usage("--overdraft: \(m)") }
        } else {
            overdraft = nil
        }
        return try AppendOptions.run(.open(account: try Parse.account(args.positionals[0]), currency: currency, scale: scale, overdraft: overdraft), args, context)
    }
}

enum CloseCommand: Subcommand {
    static let name = "close"
    static let summary = "close an account whose balance is zero"
    static let usage = "close ACCOUNT [--at TIME] [--id KEY] [--memo TEXT]"
    static let options = AppendOptions.common
    static let help = """
        Closes ACCOUNT. Only a zero balance can be closed (else balance_not_zero, exit 1);
        a closed account accepts no more money.

        \(AppendOptions.help)

        example:
          ledger close alice
        """

    static func run(_ args: Arguments, _ context: Context) throws -> Int32 {
        try args.expectPositionals(1...1, usage: usage)
        return try AppendOptions.run(.close(account: try Parse.account(args.positionals[0])), args, context)
    }
}

enum DepositCommand: Subcommand {
    static let name = "deposit"
    static let summary = "credit an account"
    static let usage = "deposit ACCOUNT AMOUNT [--expect-version N] [--at TIME] [--id KEY] [--memo TEXT]"
    static let options = AppendOptions.money
    static let help = """
        Credits AMOUNT (a positive decimal with at most the account's scale of decimals).
          --expect-version N    succeed only if the account is at version N (else exit 3)

        \(AppendOptions.help)

        examples:
          ledger deposit alice 100.00
          ledger deposit alice 12.34 --id invoice-2024-17 --memo "March invoice"
          ledger --json deposit alice 5 | jq -r .balance
        """

    static func run(_ args: Arguments, _ context: Context) throws -> Int32 {
        try args.expectPositionals(2...2, usage: usage)
        return try AppendOptions.run(.deposit(account: try Parse.account(args.positionals[0]), amount: try Parse.amount(args.positionals[1])), args, context)
    }
}

enum WithdrawCommand: Subcommand {
    static let name = "withdraw"
    static let summary = "debit an account (not below its overdraft)"
    static let usage = "withdraw ACCOUNT AMOUNT [--expect-version N] [--at TIME] [--id KEY] [--memo TEXT]"
    static let options = AppendOptions.money
    static let help = """
        Debits AMOUNT; rejected with insufficient_funds (exit 1) if the balance would go
        below -overdraft.
          --expect-version N    succeed only if the account is at version N (else exit 3)

        \(AppendOptions.help)

        example:
          ledger withdraw alice 20.00 --id atm-0042
        """

    static func run(_ args: Arguments, _ context: Context) throws -> Int32 {
        try args.expectPositionals(2...2, usage: usage)
        return try AppendOptions.run(.withdraw(account: try Parse.account(args.positionals[0]), amount: try Parse.amount(args.positionals[1])), args, context)
    }
}

enum TransferCommand: Subcommand {
    static let name = "transfer"
    static let summary = "move money between two accounts of the same currency, atomically"
    static let usage = "transfer FROM TO AMOUNT [--expect-version N] [--at TIME] [--id KEY] [--memo TEXT]"
    static let options = AppendOptions.money
    static let help = """
        Moves AMOUNT from FROM to TO as one event. Both accounts must be open and have
        the same currency and scale (else currency_mismatch).
          --expect-version N    succeed only if FROM is at version N (else exit 3)

        \(AppendOptions.help)

        example:
          ledger transfer alice bob 25.00 --memo rent
        """

    static func run(_ args: Arguments, _ context: Context) throws -> Int32 {
        try args.expectPositionals(3...3, usage: usage)
        let p = args.positionals
        return try AppendOptions.run(.transfer(from: try Parse.account(p[0]), to: try Parse.account(p[1]), amount: try Parse.amount(p[2])), args, context)
    }
}

enum ReverseCommand: Subcommand {
    static let name = "reverse"
    static let summary = "append a compensating event that undoes the money event at POSITION"
    static let usage = "reverse POSITION [--at TIME] [--id KEY] [--memo TEXT]"
    static let options = AppendOptions.common
    static let help = """
        Undoes a deposit, withdrawal or transfer by appending a MoneyReversed event that
        moves the same amount back (the original is never edited). Rejected with
        already_reversed if POSITION was reversed before, not_reversible for an open,
        close or reversal, and as any command would be if the accounts cannot take it
        (insufficient_funds, account_closed, balance_overflow).

        \(AppendOptions.help)

        examples:
          ledger reverse 42 --memo "duplicate payment"
          ledger --json log | jq 'select(.type == "MoneyReversed")'
        """

    static func run(_ args: Arguments, _ context: Context) throws -> Int32 {
        try args.expectPositionals(1...1, usage: usage)
        guard let position = UInt64(args.positionals[0]), position >= 1 else {
            throw LedgerError.usage("POSITION must be a positive integer, got '\(args.positionals[0])'")
        }
        return try AppendOptions.run(.reverse(position: position), args, context)
    }
}
