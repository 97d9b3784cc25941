// The commit path of the commands that append one event: lock → recover → views →
// idempotency → decide → append (fdatasync) → views. Invariants are checked here,
// under the lock, against the latest state — never against a stale view.

import LedgerDomain
import LedgerStorage

public struct AppendRequest: Sendable {
    public var command: Command
    public var options: CommandOptions
    /// `--at`: the event's timestamp; must not be before the last event's.
    public var at: Timestamp?

    public init(command: Command, options: CommandOptions = CommandOptions(), at: Timestamp? = nil) {
        self.command = command
        self.options = options
        self.at = at
    }
}

public struct AppendResult: Sendable {
    public let recorded: RecordedEvent
    /// The state after the event (for a duplicate: the current state) of each account involved, in event order.
    public let accounts: [Account]
    public let duplicate: Bool
}

extension Ledger {
    public func append(_ request: AppendRequest) throws -> AppendResult {
        try withWriter { writer, config in
            var viewNotes: [String] = []
            let views = try Views.openForWriting(layout, log: writer.log, notes: &viewNotes)
            addNotes(viewNotes)
            // A reversal works on the accounts of the event it undoes.
            var original: RecordedEvent?
            if case .reverse(let position) = request.command {
                guard position >= 1, position <= writer.head.position, let event = try writer.log.event(at: position) else {
                    throw LedgerError.usage("no event at position \(position) (the log ends at \(writer.head.position))")
                }
                original = event
            }
            var current: [AccountID: Account] = [:]
            var numbers: [AccountID: UInt32] = [:]
            for id in original?.event.body.accounts ?? request.command.accounts {
                if let (a, number) = try views.numberedAccount(id) {
                    current[id] = a
                    numbers[id] = number
                }
            }
            if let key = request.options.metadata.id, let original = try findEvent(withID: key, views: views, log: writer.log) {
                guard Decide.sameRequest(request.command, request.options, recorded: original.event, accounts: { current[$0] }) else {
                    throw LedgerError.rejected(code: Rejection.Code.idConflict.rawValue,
                                               message: "id '\(key)' was already used at position \(original.position) for a different request")
                }
                return AppendResult(recorded: original, accounts: original.event.body.accounts.compactMap { current[$0] }, duplicate: true)
            }
            let event: Event
            do {
                if let original {
                    event = try Decide.reverse(original.event, at: original.position,
                                               alreadyReversed: isReversed(original.position, views: views, log: writer.log),
                                               options: request.options, accounts: { current[$0] })
                } else {
                    event = try Decide.decide(request.command, options: request.options, accounts: { current[$0] })
                }
            } catch let error as DomainError {
                throw Ledger.translate(error)
            }
            let last = writer.head.timestampMicros
            let micros: Int64
            if let at = request.at {
                guard writer.head.position == 0 || at.micros >= last else {
                    throw LedgerError.rejected(code: Rejection.Code.timeBeforeLast.rawValue,
                                               message: "--at \(at.rfc3339) is before the last event (\(Timestamp(micros: last).rfc3339))")
                }
                micros = at.micros
            } else {
                micros = clock.nextTimestamp(after: writer.head.position == 0 ? Int64.min : last)
            }
            // Decide named only existing accounts (an open's event numbers none): the writer's views have their numbers.
            let encoded = EventCodec.encode(event, numbers: { numbers[$0]! })
            var batch = writer.makeBatch()
            try batch.append(timestampMicros: micros, type: encoded.type, schemaVersion: encoded.version, payload: encoded.payload)
            let position = try writer.append(batch).lowerBound
            let recorded = RecordedEvent(position: position, timestamp: Timestamp(micros: micros), event: event)
            // The event is durable; the views follow (a crash here is repaired by the next catch-up).
            try Views.translating { try views.apply(recorded) }
            if position - views.checkpoint >= Views.checkpointEvery { try views.checkpoint(through: position) }
            if Snapshots.due(first: position, last: position, every: config.snapshotEvery) {
                try Snapshots.write(layout, accounts: views.allAccounts(), head: writer.head)
                try Snapshots.prune(layout, every: config.snapshotEvery)
            }
            var after: [Account] = []
            for id in event.body.accounts { if let a = try views.account(id) { after.append(a) } }
            return AppendResult(recorded: recorded, accounts: after, duplicate: false)
        }
    }

    /// The event that carries idempotency key `key`, however old.
    func findEvent(withID key: String, views: Views, log: Log) throws -> RecordedEvent? {
        try findIndexed(key, views: views, log: log) { $0.event.metadata.id == key }
    }

    /// Whether a MoneyReversed for `position` is in the log (the ids view indexes reversals too).
    func isReversed(_ position: UInt64, views: Views, log: Log) throws -> Bool {
        try findIndexed(Views.reversalKey(position), views: views, log: log) {
            if case .moneyReversed(let p, _, _, _) = $0.event.body { return p == position }
            return false
        } != nil
    }

    /// The first event indexed under `key` that `matches`: the index holds hashes, so each hit is confirmed.
    private func findIndexed(_ key: String, views: Views, log: Log, matches: (RecordedEvent) -> Bool) throws -> RecordedEvent? {
        for position in try views.positions(forID: key) {
            if let event = try log.event(at: position), matches(event) { return event }
        }
        return nil
    }

    static func translate(_ error: DomainError) -> LedgerError {
        switch error {
        case .usage(let m): return .usage(m)
        case .undecodable(let m): return .integrity(m)
        case .rejected(let r):
            if r.code == .versionConflict { return .conflict(code: r.code.rawValue, message: r.message) }
            return .rejected(code: r.code.rawValue, message: r.message)
        }
    }
}
