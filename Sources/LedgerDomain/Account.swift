// The Account aggregate and the fold of all accounts. Applying an event never
// fails: events were checked by Decide before they were written.

public struct Account: Equatable, Sendable {
    public enum Status: UInt8, Sendable { case open = 1, closed = 2 }

    public let id: AccountID
    public let currency: Currency
    public let scale: Int
    public var overdraft: Int64
    public var balance: Int64 = 0
    /// Number of events applied to this account (AccountOpened is version 1).
    public var version: UInt64 = 0
    public var status: Status = .open
    /// Position of the last event applied.
    public var lastPosition: UInt64 = 0
    /// Position of its AccountOpened event: where a history of this account starts.
    public var openedPosition: UInt64 = 0

    public init(id: AccountID, currency: Currency, scale: Int, overdraft: Int64) {
        self.id = id
        self.currency = currency
        self.scale = scale
        self.overdraft = overdraft
    }

    public func format(_ units: Int64) -> String { Money.format(units, scale: scale) }

    /// The account after `event` at `position`. Arithmetic wraps instead of trapping: Decide
    /// rejected every overflow before the event was written, so wrapping never happens on a sound log.
    public func applying(_ body: EventBody, at position: UInt64) -> Account {
        var next = self
        switch body {
        case .accountOpened: next.move(0, at: position)
        case .accountClosed:
            next.status = .closed
            next.move(0, at: position)
        case .moneyDeposited(_, let amount): next.move(amount, at: position)
        case .moneyWithdrawn(_, let amount): next.move(0 &- amount, at: position)
        case .moneyTransferred(let from, _, let amount): next.move(from == id ? 0 &- amount : amount, at: position)
        case .moneyReversed(_, let from, _, let amount): next.move(from == id ? 0 &- amount : amount, at: position)
        }
        return next
    }

    /// A money event's effect in place: `delta` minor units in (negative: out), one more version.
    /// What `applying` does for money events, for callers that keep accounts in place.
    public mutating func move(_ delta: Int64, at position: UInt64) {
        balance = balance &+ delta
        version += 1
        lastPosition = position
    }

    /// A new account from its AccountOpened event.
    public static func opened(_ body: EventBody, at position: UInt64) -> Account? {
        guard case .accountOpened(let id, let currency, let scale, let overdraft) = body else { return nil }
        var account = Account(id: id, currency: currency, scale: scale, overdraft: overdraft)
        account.version = 1
        account.lastPosition = position
        account.openedPosition = position
        return account
    }
}

/// The fold of every account: used by replays, tests and as-of answers.
public struct LedgerState: Equatable, Sendable {
    public var accounts: [AccountID: Account] = [:]
    public var position: UInt64 = 0

    public init() {}

    public mutating func apply(_ body: EventBody, at position: UInt64) {
        for id in body.accounts {
            if let account = accounts[id] {
                accounts[id] = account.applying(body, at: position)
            } else if let account = Account.opened(body, at: position) {
                accounts[id] = account
            }
        }
        self.position = position
    }
}
