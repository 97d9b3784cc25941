import LedgerDomain
import LedgerTestSupport
import Testing

/// The fold over payload bytes (replay, as-of) against the plain fold over decoded events.
@Suite struct CompactFoldTests {
    /// Names of every length 1...64, some sharing long prefixes and some exactly at the slot's
    /// inline limit (23 bytes) or one past it, so both ways of comparing names are exercised.
    static func names(_ rng: inout SplitMix64) -> [String] {
        var out: Set<String> = []
        let prefix = String(repeating: "p", count: 22)
        for suffix in ["a", "b", "ab", "ba", "abc"] { out.insert(prefix + suffix) }
        out.insert(String(repeating: "x", count: 64))
        out.insert(String(repeating: "x", count: 63) + "y")
        while out.count < 400 {
            let length = Int.random(in: 1...64, using: &rng)
            out.insert(String((0..<length).map { _ in "abcdefghij0123456789_-.:/".randomElement(using: &rng)! }))
        }
        return out.sorted()
    }

    @Test func compactFoldAgreesWithThePlainFoldOnRandomHistories() throws {
        for seed in UInt64(1)...3 {
            var rng = SplitMix64(seed: seed)
            let ids = Self.names(&rng).map { AccountID(trusted: $0) }
            // The fold by numbers (v2 events, from the first event), by names (a state built from
            // accounts: numbers are not used), over v1 events (names alone), and over a log whose
            // first half was written before numbers: all agree with the plain fold.
            var compact = CompactState()
            var byName = CompactState([], position: 0)
            var legacy = CompactState()
            var mixed = CompactState()
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
                    compact.apply(e, at: position)
                    byName.apply(e, at: position)
                    if position > 10_000 { mixed.apply(e, at: position) }
                }
                try v1.2.withUnsafeBytes {
                    let e = try EventCodec.scan(type: v1.0, version: v1.1, payload: $0)
                    #expect(e.accountNumber == -1 && e.otherNumber == -1)
                    legacy.apply(e, at: position)
                    if position <= 10_000 { mixed.apply(e, at: position) }
                }
                plain.apply(body, at: position)
            }
            #expect(compact.numbered && !byName.numbered)
            for state in [compact, byName, legacy, mixed] {
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
}
