// Read-only use cases: current balances, an account's history, the global feed.
// Readers take no lock: they see the committed log up to its head when they opened it.

import LedgerDomain
import LedgerStorage

public struct BalanceAnswer: Sendable {
    /// Last position included.
    public let position: UInt64
    public let accounts: [Account]
    /// The checkpoint the answer started from (nil: folded from the start of the log).
    public let startPosition: UInt64?
    /// Events folded after it.
    public let replayed: UInt64
}

public struct HistoryLine: Sendable {
    public let recorded: RecordedEvent
    /// The account's balance after this event.
    public let balance: Int64
}

extension Ledger {
    /// Current balances of `ids` (all accounts when empty).
    public func balances(_ ids: [AccountID]) throws -> BalanceAnswer {
        let log = try openLog()
        if let views = try Views.openForReading(layout, log: log, catchUpMax: Views.readerCatchUpMax) {
            let accounts = try ids.isEmpty ? views.allAccounts() : ids.map { id in
                guard let a = try views.account(id) else { throw unknown(id) }
                return a
            }
            return BalanceAnswer(position: log.head.position, accounts: accounts, startPosition: views.checkpoint, replayed: views.replayed)
        }
        // No views yet (or damaged, and only a writer may rebuild them; or far behind the log, their
        // writer still at work or stopped): the as-of path at the head (newest snapshot plus the log
        // after it) gives the same answer.
        return try balances(ids, atPosition: log.head.position, log: log).0
    }

    func unknown(_ id: AccountID) -> LedgerError {
        .rejected(code: Rejection.Code.unknownAccount.rawValue, message: "unknown account '\(id)'")
    }

    /// The account's events with the running balance, optionally limited to a time window and count.
    public func history(_ id: AccountID, since: Timestamp?, until: Timestamp?, limit: Int?) throws -> (Account, [HistoryLine]) {
        let log = try openLog()
        let start: UInt64
        let account: Account
        if let views = try Views.openForReading(layout, log: log, catchUpMax: Views.readerCatchUpMax) {
            guard let a = try views.account(id) else { throw unknown(id) }
            account = a
            start = a.openedPosition
        } else {
            guard let a = try balances([id], atPosition: log.head.position, log: log).0.accounts.first else { throw unknown(id) }
            account = a
            start = a.openedPosition
        }
        var last = log.head.position
        if let until { last = try LedgerError.translating { try log.lastPosition(atOrBefore: until.micros) } }
        var lines: [HistoryLine] = []
        // The running state starts empty at the opening, or as of just before `since` (index position).
        var running = Account(id: id, currency: account.currency, scale: account.scale, overdraft: account.overdraft)
        var from = start
        if let since {
            let before = try LedgerError.translating { try log.lastPosition(atOrBefore: since.micros - 1) }
            if before >= start {
                running = try balances([id], atPosition: before, log: log).0.accounts.first ?? running
                from = before + 1
            }
        }
        let name = [Array(id.name.utf8)]
        try LedgerError.translating {
            try log.forEach(from: from, through: last) { record in
                // Skip events of other accounts without decoding them.
                guard EventCodec.touches(type: record.type, version: record.schemaVersion, payload: record.payload, anyOf: name) else { return true }
                let event: Event
                do { event = try EventCodec.decode(type: record.type, version: record.schemaVersion, payload: record.payload) } catch {
                    throw LedgerError.undecodableEvent(at: record.position, error)
                }
                running = running.applying(event.body, at: record.position)
                let t = Timestamp(micros: record.timestampMicros)
                if let since, t < since { return true }
                lines.append(HistoryLine(recorded: RecordedEvent(position: record.position, timestamp: t, event: event), balance: running.balance))
                if let limit, lines.count >= limit { return false }
                return true
            }
        }
        return (account, lines)
    }

    /// The global feed from `position`, with each event's accounts (for currency and scale).
    public func events(from position: UInt64, _ visit: (RecordedEvent, [AccountID: Account]) throws -> Bool) throws -> UInt64 {
        let log = try openLog()
        // However far behind: without the views, each account would be a fold of its own.
        let views = try Views.openForReading(layout, log: log)
        var known: [AccountID: Account] = [:]
        try log.forEachEvent(from: position) { recorded in
            for id in recorded.event.body.accounts where known[id] == nil {
                // Currency and scale never change: the current state of an account names them.
                known[id] = try Account.opened(recorded.event.body, at: recorded.position)
                    ?? views?.account(id) ?? balances([id], atPosition: log.head.position, log: log).0.accounts.first
            }
            return try visit(recorded, known)
        }
        return log.head.position
    }
}
