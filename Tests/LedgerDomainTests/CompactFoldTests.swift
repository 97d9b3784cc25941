import LedgerDomain
import LedgerTestSupport
import Testing

/// The fold over payload bytes (replay, as-of) against the plain fold over decoded events.
@Suite struct CompactFoldTests {
    @Test func compactFoldAgreesWithThePlainFoldOnRandomHistories() throws {
        for seed in UInt64(1)...3 {
            var rng = SplitMix64(seed: seed)
            let ids = RandomHistory.names(&rng).map { AccountID(trusted: $0) }
            // The fold by numbers (v2 events, from the first event), by names (a state built from
            // accounts: numbers are not used), over v1 events (names alone), and over a log whose
            // first half was written before numbers: all agree with the plain fold.
            var compact = CompactState()
            var byName = CompactState([], position: 0)
            var legacy = CompactState()
            var mixed = CompactState()
            // fold (fields read in place for money events) over the same records.
            var folded = CompactState()
            var foldedLegacy = CompactState()
            // As a replay folds: a digest made apart, the general way when it declines.
            var digested = CompactState()
            var digestFolds = 0, moneyEvents = 0
            var plain = LedgerState()
            var opened: [AccountID] = []
            var numbers: [AccountID: UInt32] = [:]
            for position in UInt64(1)...20_000 {
                let body: EventBody
                if opened.count < ids.count && (opened.count < 2 || Int.random(in: 0..<10, using: &rng) == 0) {
                    body = .accountOpened(account: ids[opened.count], currency: Currency(trusted: "USD"), scale: 2, overdraft: 0)
                    opened.append(ids[opened.count])
                } else {
                    // Two different accounts (Decide rejects a transfer to the same account).
                    let i = Int.random(in: 0..<opened.count, using: &rng)
                    let a = opened[i], b = opened[(i + Int.random(in: 1..<opened.count, using: &rng)) % opened.count]
                    let amount = Int64.random(in: 1...1_000_000, using: &rng)
                    switch Int.random(in: 0..<10, using: &rng) {
                    case 0...3: body = .moneyDeposited(account: a, amount: amount)
                    case 4...5: body = .moneyWithdrawn(account: a, amount: amount)
                    case 6...8: body = .moneyTransferred(from: a, to: b, amount: amount)
                    default: body = .moneyReversed(reverses: position - 1, from: b, to: a, amount: amount)
                    }
                }
                let event = Event(body)
                let (type, version, payload) = EventCodec.encode(event, numbers: { numbers[$0]! })
                if case .accountOpened(let a, _, _, _) = body { numbers[a] = UInt32(numbers.count) }
                let v1 = EventCodec.typeCode(body) == .accountOpened ? (type, version, payload) : LegacyEncoding.namesOnlyV1(event)
                try payload.withUnsafeBytes {
                    let e = try EventCodec.scan(type: type, version: version, payload: $0)
                    let touched = compact.apply(e, at: position)
                    let foldTouched = try folded.fold(type: type, version: version, payload: $0, at: position)
                    #expect(foldTouched.account == touched.account && foldTouched.other == touched.other)
                    let digest = MoneyDigest(type: type, version: version, payload: $0)
                    if digested.fold(digest, at: position) { digestFolds += 1 } else { _ = try digested.fold(type: type, version: version, payload: $0, at: position) }
                    if [.moneyDeposited, .moneyWithdrawn, .moneyTransferred].contains(e.type) { moneyEvents += 1 }
                    // A state that finds accounts by name declines every digest, changing nothing.
                    let declined = !byName.fold(digest, at: position)
                    #expect(declined)
                    byName.apply(e, at: position)
                    if position > 10_000 { mixed.apply(e, at: position) }
                }
                try v1.2.withUnsafeBytes {
                    let e = try EventCodec.scan(type: v1.0, version: v1.1, payload: $0)
                    #expect(e.accountNumber == -1 && e.otherNumber == -1)
                    legacy.apply(e, at: position)
                    _ = try foldedLegacy.fold(type: v1.0, version: v1.1, payload: $0, at: position)
                    if position <= 10_000 { mixed.apply(e, at: position) }
                }
                plain.apply(body, at: position)
            }
            #expect(compact.numbered && !byName.numbered)
            // Every deposit, withdrawal and transfer was folded from its digest.
            #expect(moneyEvents > 10_000 && digestFolds == moneyEvents)
            for state in [compact, byName, legacy, mixed, folded, foldedLegacy, digested] {
                #expect(state.accounts.count == plain.accounts.count)
                for a in state.accounts {
                    #expect(plain.accounts[a.id] == a, "seed \(seed): \(a.id)")
                    #expect(state.account(named: a.id.name) == a)
                }
            }
            // Names never opened are not found, whatever they share with those that were.
            for missing in ["p", String(repeating: "p", count: 22), String(repeating: "p", count: 22) + "c", String(repeating: "x", count: 62)] {
                #expect(compact.account(named: missing) == nil)
            }
        }
    }

    /// What fold reads in place, it reads as scan + apply would: the same accounts, or the same
    /// error, for payloads cut short anywhere, ids running past the end, and numbers that do
    /// not match their names or no account has.
    /// Each account as the accounts view stores it, made without an Account: the same bytes
    /// StateCodec makes of the account (its number when the state is numbered), name and last
    /// position, in order.
    @Test func encodedAccountsAreWhatStateCodecMakesOfEach() throws {
        var state = CompactState()
        for (i, r) in RandomHistory.records(seed: 4, events: 2_000, unsound: false).enumerated() {
            _ = try r.payload.withUnsafeBytes { try state.fold(type: r.type, version: r.version, payload: $0, at: UInt64(i + 1)) }
        }
        let byNames = CompactState(state.accounts, position: state.position)
        for (label, s, numbered) in [("numbered", state, true), ("by names", byNames, false)] {
            var seen: [(Int, String, UInt64, [UInt8])] = []
            try s.forEachEncodedAccount { i, name, last, value in seen.append((i, String(decoding: name, as: UTF8.self), last, Array(value))) }
            #expect(seen.count == s.count && s.count > 10, "\(label)")
            for (k, (i, name, last, value)) in seen.enumerated() {
                let a = s.accounts[k]
                #expect(i == k && name == a.id.name && last == a.lastPosition, "\(label): account \(k)")
                #expect(value == StateCodec.encode(a, number: numbered ? UInt32(k) : nil), "\(label): account \(k)")
            }
        }
    }

    @Test func foldReadsMoneyInPlaceAsScanAndApplyWould() throws {
        let ids = ["alice", "bob", "carol"].map { AccountID(trusted: $0) }
        func opened() throws -> CompactState {
            var state = CompactState()
            for (i, id) in ids.enumerated() {
                let (type, version, payload) = EventCodec.encode(Event(.accountOpened(account: id, currency: Currency(trusted: "EUR"), scale: 2, overdraft: 0)),
                                                                 numbers: { _ in 0 })
                _ = try payload.withUnsafeBytes { try state.fold(type: type, version: version, payload: $0, at: UInt64(i + 1)) }
            }
            return state
        }
        let right: EventCodec.AccountNumbers = { id in UInt32(ids.firstIndex(of: id)!) }
        let cases: [(Event, EventCodec.AccountNumbers)] = [
            (Event(.moneyDeposited(account: ids[0], amount: 500)), right),
            (Event(.moneyWithdrawn(account: ids[1], amount: 70), metadata: EventMetadata(id: "w-1")), right),
            (Event(.moneyTransferred(from: ids[2], to: ids[0], amount: 12), metadata: EventMetadata(id: "t-1")), right),
            // Numbers swapped, pointing at another account, or at none: found by name instead.
            (Event(.moneyTransferred(from: ids[0], to: ids[1], amount: 3)), { id in id == ids[0] ? 1 : 0 }),
            (Event(.moneyDeposited(account: ids[2], amount: 9)), { _ in 0 }),
            (Event(.moneyDeposited(account: ids[1], amount: 9)), { _ in 77 }),
            (Event(.moneyWithdrawn(account: ids[1], amount: 9)), { _ in UInt32.max }),
        ]
        for (event, numbers) in cases {
            let (type, version, payload) = EventCodec.encode(event, numbers: numbers)
            for length in 0...payload.count {
                var byFold = try opened(), byScan = try opened()
                let cut = Array(payload[0..<length])
                let folded = cut.withUnsafeBytes { bytes in Result { try byFold.fold(type: type, version: version, payload: bytes, at: 9) } }
                let scanned = cut.withUnsafeBytes { bytes in Result { byScan.apply(try EventCodec.scan(type: type, version: version, payload: bytes), at: 9) } }
                switch (folded, scanned) {
                case (.success(let a), .success(let b)):
                    #expect(a.account == b.account && a.other == b.other, "\(event.body), \(length) bytes")
                    #expect(byFold.accounts == byScan.accounts, "\(event.body), \(length) bytes")
                case (.failure(let a), .failure(let b)):
                    #expect(String(describing: a) == String(describing: b))
                default:
                    Issue.record("fold and scan disagree on \(event.body) cut to \(length) bytes: \(folded) vs \(scanned)")
                }
            }
            // Whole, it changes the accounts it names.
            var state = try opened()
            _ = try payload.withUnsafeBytes { try state.fold(type: type, version: version, payload: $0, at: 9) }
            #expect(state.accounts != (try opened()).accounts)
        }
        // A payload with an id whose length runs past the end: an error, as scan gives.
        var state = try opened()
        var (type, version, payload) = EventCodec.encode(Event(.moneyDeposited(account: ids[0], amount: 5), metadata: EventMetadata(id: "abc")), numbers: right)
        payload[payload.count - 5] = 0x40  // the id's length, low byte: 64 bytes, 3 present
        #expect(throws: DomainError.self) { try payload.withUnsafeBytes { try state.fold(type: type, version: version, payload: $0, at: 9) } }
        (type, version, payload) = EventCodec.encode(Event(.moneyDeposited(account: ids[0], amount: 5)), numbers: right)
        #expect(throws: DomainError.self) { try payload.withUnsafeBytes { try state.fold(type: 3, version: 3, payload: $0, at: 9) } }
    }
}
