// The domain facts. Immutable; a mistake is undone by a compensating event, never by an edit.

public struct EventMetadata: Equatable, Sendable {
    /// Idempotency key (`--id`).
    public var id: String?
    public var memo: String?
    public var correlationID: String?
    public var causationID: String?

    public init(id: String? = nil, memo: String? = nil, correlationID: String? = nil, causationID: String? = nil) {
        self.id = id
        self.memo = memo
        self.correlationID = correlationID
        self.causationID = causationID
    }

    public static let textBytesMax = 1024
}

public enum EventBody: Equatable, Sendable {
    case accountOpened(account: AccountID, currency: Currency, scale: Int, overdraft: Int64)
    case accountClosed(account: AccountID)
    case moneyDeposited(account: AccountID, amount: Int64)
    case moneyWithdrawn(account: AccountID, amount: Int64)
    case moneyTransferred(from: AccountID, to: AccountID, amount: Int64)
    /// The compensating event of `ledger reverse`: undoes the money event at `reverses` by moving
    /// `amount` out of `from` and into `to`; a nil side is outside the ledger (a deposit's
    /// reversal has no `to`, a withdrawal's no `from`).
    case moneyReversed(reverses: UInt64, from: AccountID?, to: AccountID?, amount: Int64)

    public var typeName: String {
        switch self {
        case .accountOpened: return "AccountOpened"
        case .accountClosed: return "AccountClosed"
        case .moneyDeposited: return "MoneyDeposited"
        case .moneyWithdrawn: return "MoneyWithdrawn"
        case .moneyTransferred: return "MoneyTransferred"
        case .moneyReversed: return "MoneyReversed"
        }
    }

    /// The accounts this event touches, in order.
    public var accounts: [AccountID] {
        switch self {
        case .accountOpened(let a, _, _, _), .accountClosed(let a), .moneyDeposited(let a, _), .moneyWithdrawn(let a, _): return [a]
        case .moneyTransferred(let from, let to, _): return [from, to]
        case .moneyReversed(_, let from, let to, _): return [from, to].compactMap { $0 }
        }
    }
}

public struct Event: Equatable, Sendable {
    public var body: EventBody
    public var metadata: EventMetadata

    public init(_ body: EventBody, metadata: EventMetadata = EventMetadata()) {
        self.body = body
        self.metadata = metadata
    }
}

/// An event as read from the log, with where and when it was recorded.
public struct RecordedEvent: Equatable, Sendable {
    public let position: UInt64
    public let timestamp: Timestamp
    public let event: Event

    public init(position: UInt64, timestamp: Timestamp, event: Event) {
        self.position = position
        self.timestamp = timestamp
        self.event = event
    }
}
