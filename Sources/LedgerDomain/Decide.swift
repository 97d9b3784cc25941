// Every business invariant, in one pure function: a command and the current
// state of the accounts it touches become one event, or a typed rejection.

public struct CommandOptions: Equatable, Sendable {
    public var metadata = EventMetadata()
    /// Optimistic concurrency: the account's (for a transfer, FROM's) version must be this.
    public var expectVersion: UInt64?

    public init(metadata: EventMetadata = EventMetadata(), expectVersion: UInt64? = nil) {
        self.metadata = metadata
        self.expectVersion = expectVersion
    }
}

public enum Command: Equatable, Sendable {
    case open(account: AccountID, currency: Currency, scale: Int, overdraft: DecimalText?)
    case close(account: AccountID)
    case deposit(account: AccountID, amount: DecimalText)
    case withdraw(account: AccountID, amount: DecimalText)
    case transfer(from: AccountID, to: AccountID, amount: DecimalText)
    /// Undo the money event at a position (Decide.reverse, given that event).
    case reverse(position: UInt64)

    /// The accounts whose state Decide needs (for `reverse`, those of the event it undoes).
    public var accounts: [AccountID] {
        switch self {
        case .open(let a, _, _, _), .close(let a), .deposit(let a, _), .withdraw(let a, _): return [a]
        case .transfer(let from, let to, _): return [from, to]
        case .reverse: return []
        }
    }
}

public enum Decide {
    public static let scaleMax = 18

    /// `accounts` gives the current state of every account the command names that exists
    /// (a lookup, so a caller keeps its states however it likes: a dictionary, a cache).
    public static func decide(_ command: Command, options: CommandOptions, accounts: (AccountID) -> Account?) throws -> Event {
        func reject(_ code: Rejection.Code, _ message: String) -> DomainError { .rejected(Rejection(code, message)) }
        func existing(_ id: AccountID) throws -> Account {
            guard let a = accounts(id) else { throw reject(.unknownAccount, "unknown account '\(id)'") }
            return a
        }
        func open(_ id: AccountID) throws -> Account {
            let a = try existing(id)
            guard a.status == .open else { throw reject(.accountClosed, "account '\(id)' is closed") }
            return a
        }
        func units(_ amount: DecimalText, _ account: Account) throws -> Int64 {
            do { return try amount.minorUnits(scale: account.scale) } catch DecimalText.ParseError.invalid(let m) {
                throw DomainError.usage("bad amount for '\(account.id)': \(m)")
            }
        }
        func checkVersion(_ account: Account) throws {
            if let expected = options.expectVersion, expected != account.version {
                throw reject(.versionConflict, "account '\(account.id)' is at version \(account.version), expected \(expected)")
            }
        }
        func funds(_ account: Account, _ amount: Int64) throws {
            guard canDebit(balance: account.balance, overdraft: account.overdraft, amount) else {
                guard Money.subtract(account.balance, amount) != nil else {
                    throw reject(.balanceOverflow, "withdrawing \(account.format(amount)) from '\(account.id)' overflows its balance")
                }
                throw reject(.insufficientFunds, "insufficient funds in '\(account.id)': balance \(account.format(account.balance)) \(account.currency), overdraft \(account.format(account.overdraft)), needs \(account.format(amount))")
            }
        }
        func credit(_ account: Account, _ amount: Int64) throws {
            guard canCredit(balance: account.balance, amount) else {
                throw reject(.balanceOverflow, "depositing \(account.format(amount)) into '\(account.id)' overflows its balance")
            }
        }

        let body: EventBody
        switch command {
        case .reverse:
            preconditionFailure("a reversal is decided by Decide.reverse, with the event it undoes")
        case .open(let id, let currency, let scale, let overdraftText):
            guard (0...scaleMax).contains(scale) else { throw DomainError.usage("scale must be 0...\(scaleMax), got \(scale)") }
            if accounts(id) != nil { throw reject(.accountExists, "account '\(id)' already exists") }
            var overdraft: Int64 = 0
            if let overdraftText {
                do { overdraft = try overdraftText.minorUnits(scale: scale) } catch DecimalText.ParseError.invalid(let m) {
                    throw DomainError.usage("bad overdraft: \(m)")
                }
            }
            body = .accountOpened(account: id, currency: currency, scale: scale, overdraft: overdraft)
        case .close(let id):
            let a = try open(id)
            guard a.balance == 0 else {
                throw reject(.balanceNotZero, "account '\(id)' has balance \(a.format(a.balance)) \(a.currency); only a zero balance can be closed")
            }
            body = .accountClosed(account: id)
        case .deposit(let id, let amountText):
            let a = try open(id)
            let amount = try units(amountText, a)
            guard amount > 0 else { throw DomainError.usage("amount must be greater than zero") }
            try checkVersion(a)
            try credit(a, amount)
            body = .moneyDeposited(account: id, amount: amount)
        case .withdraw(let id, let amountText):
            let a = try open(id)
            let amount = try units(amountText, a)
            guard amount > 0 else { throw DomainError.usage("amount must be greater than zero") }
            try checkVersion(a)
            try funds(a, amount)
            body = .moneyWithdrawn(account: id, amount: amount)
        case .transfer(let fromID, let toID, let amountText):
            guard fromID != toID else { throw DomainError.usage("FROM and TO must be different accounts") }
            let from = try open(fromID)
            let to = try open(toID)
            guard from.currency == to.currency, from.scale == to.scale else {
                throw reject(.currencyMismatch, "cannot transfer \(from.currency) (scale \(from.scale)) from '\(fromID)' to \(to.currency) (scale \(to.scale)) account '\(toID)'")
            }
            let amount = try units(amountText, from)
            guard amount > 0 else { throw DomainError.usage("amount must be greater than zero") }
            try checkVersion(from)
            try funds(from, amount)
            try credit(to, amount)
            body = .moneyTransferred(from: fromID, to: toID, amount: amount)
        }
        return Event(body, metadata: options.metadata)
    }

    /// The funds rule of every debit: `amount` can leave an account with `balance` and
    /// `overdraft` without overflowing or going below -overdraft. (An import's money lines
    /// check this directly on their state; a failing line goes through `decide` for its
    /// rejection.)
    public static func canDebit(balance: Int64, overdraft: Int64, _ amount: Int64) -> Bool {
        guard let after = Money.subtract(balance, amount) else { return false }
        return after >= -overdraft
    }

    /// The rule of every credit: `amount` can arrive in an account with `balance` without overflow.
    public static func canCredit(balance: Int64, _ amount: Int64) -> Bool { Money.add(balance, amount) != nil }

    /// The compensating event for `original` (recorded at `position`), or why it cannot be
    /// appended: not a money event, already reversed, or the reversal would break an invariant.
    public static func reverse(_ original: Event, at position: UInt64, alreadyReversed: Bool, options: CommandOptions,
                               accounts: (AccountID) -> Account?) throws -> Event {
        func reject(_ code: Rejection.Code, _ message: String) -> DomainError { .rejected(Rejection(code, message)) }
        let from: AccountID?, to: AccountID?, amount: Int64
        switch original.body {
        case .moneyDeposited(let a, let m): (from, to, amount) = (a, nil, m)
        case .moneyWithdrawn(let a, let m): (from, to, amount) = (nil, a, m)
        case .moneyTransferred(let f, let t, let m): (from, to, amount) = (t, f, m)
        case .moneyReversed:
            throw reject(.notReversible, "the event at position \(position) is itself a reversal; it cannot be reversed")
        case .accountOpened, .accountClosed:
            throw reject(.notReversible, "the \(original.body.typeName) at position \(position) moves no money and cannot be reversed")
        }
        if alreadyReversed { throw reject(.alreadyReversed, "position \(position) was already reversed") }
        for id in [from, to] {
            guard let id else { continue }
            guard let a = accounts(id) else { throw reject(.unknownAccount, "unknown account '\(id)'") }
            guard a.status == .open else { throw reject(.accountClosed, "account '\(id)' is closed") }
        }
        if let from, let a = accounts(from) {
            guard let after = Money.subtract(a.balance, amount) else {
                throw reject(.balanceOverflow, "reversing \(a.format(amount)) from '\(from)' overflows its balance")
            }
            guard after >= -a.overdraft else {
                throw reject(.insufficientFunds, "insufficient funds in '\(from)' to reverse position \(position): balance \(a.format(a.balance)) \(a.currency), needs \(a.format(amount))")
            }
        }
        if let to, let a = accounts(to), Money.add(a.balance, amount) == nil {
            throw reject(.balanceOverflow, "reversing \(a.format(amount)) into '\(to)' overflows its balance")
        }
        return Event(.moneyReversed(reverses: position, from: from, to: to, amount: amount), metadata: options.metadata)
    }

    /// Whether `event` is what `command` with `options` would have produced: the test for a
    /// repeated idempotency key (same parameters → duplicate, else id_conflict).
    public static func sameRequest(_ command: Command, _ options: CommandOptions, recorded: Event, accounts: (AccountID) -> Account?) -> Bool {
        guard recorded.metadata.memo == options.metadata.memo else { return false }
        switch (command, recorded.body) {
        case (.open(let a, let c, let s, let o), .accountOpened(let ra, let rc, let rs, let ro)):
            let overdraft = (try? o?.minorUnits(scale: s)) ?? 0
            return a == ra && c == rc && s == rs && (o == nil ? ro == 0 : overdraft == ro)
        case (.close(let a), .accountClosed(let ra)):
            return a == ra
        case (.deposit(let a, let amount), .moneyDeposited(let ra, let rAmount)),
             (.withdraw(let a, let amount), .moneyWithdrawn(let ra, let rAmount)):
            guard a == ra, let account = accounts(a) else { return false }
            return (try? amount.minorUnits(scale: account.scale)) == rAmount
        case (.transfer(let f, let t, let amount), .moneyTransferred(let rf, let rt, let rAmount)):
            guard f == rf, t == rt, let account = accounts(f) else { return false }
            return (try? amount.minorUnits(scale: account.scale)) == rAmount
        case (.reverse(let p), .moneyReversed(let rp, _, _, _)):
            return p == rp
        default:
            return false
        }
    }
}
