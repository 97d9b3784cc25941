import LedgerDomain

/// Random histories for the tests of the folds: names and event records.
public enum RandomHistory {
    public typealias Record = (type: UInt16, version: UInt16, payload: [UInt8])

    /// Names of every length 1...64, some sharing long prefixes and some exactly at the slot's
    /// inline limit (23 bytes) or one past it, so both ways of comparing names are exercised.
    public static func names(_ rng: inout SplitMix64) -> [String] {
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

    /// A random history: openings (some of a name already open), deposits, withdrawals,
    /// transfers, reversals and closings, in today's layout and in v1's. With `unsound`, some
    /// events also carry numbers that disagree with their names (another account's, one no
    /// account has, a huge one) or name an account opened only later, under the number it
    /// will get: what a damaged or hand-made log could hold.
    public static func records(seed: UInt64, events: Int, unsound: Bool) -> [Record] {
        var rng = SplitMix64(seed: seed)
        let names = names(&rng).prefix(120).map { AccountID(trusted: $0) }
        var opened: [AccountID] = []
        var numbers: [AccountID: UInt32] = [:]
        var records: [Record] = []
        for position in 1...events {
            let roll = Int.random(in: 0..<100, using: &rng)
            let body: EventBody
            var numbering: EventCodec.AccountNumbers = { numbers[$0] ?? 0 }
            if opened.count < 2 || (opened.count < names.count && roll < 8) {
                body = .accountOpened(account: names[opened.count], currency: Currency(trusted: "USD"), scale: 2, overdraft: 0)
            } else if roll < 10 {
                // An opening of a name already open changes nothing.
                body = .accountOpened(account: opened.randomElement(using: &rng)!, currency: Currency(trusted: "USD"), scale: 2, overdraft: 0)
            } else if unsound && roll < 14 && opened.count < names.count {
                // Money for the next account to open, under the number it will get.
                let next = names[opened.count], number = UInt32(opened.count)
                body = .moneyDeposited(account: next, amount: 7)
                numbering = { $0 == next ? number : numbers[$0] ?? 0 }
            } else {
                let a = opened.randomElement(using: &rng)!
                var b = opened.randomElement(using: &rng)!
                if b == a { b = opened[(opened.firstIndex(of: a)! + 1) % opened.count] }
                let amount = Int64.random(in: 1...1_000_000, using: &rng)
                switch roll {
                case ..<40: body = .moneyDeposited(account: a, amount: amount)
                case ..<60: body = .moneyWithdrawn(account: a, amount: amount)
                case ..<90: body = .moneyTransferred(from: a, to: b, amount: amount)
                case ..<95: body = .moneyReversed(reverses: UInt64(position - 1), from: b, to: a, amount: amount)
                default: body = .accountClosed(account: a)
                }
                if unsound && Int.random(in: 0..<20, using: &rng) == 0 {
                    let wrong: [UInt32] = [numbers[b] ?? 0, UInt32(opened.count + 3), 1 << 30, UInt32.max]
                    let w = wrong.randomElement(using: &rng)!
                    numbering = { $0 == a ? w : numbers[$0] ?? 0 }
                }
            }
            let event = Event(body)
            var record: Record = EventCodec.encode(event, numbers: numbering)
            if EventCodec.typeCode(body) != .accountOpened && Int.random(in: 0..<15, using: &rng) == 0 {
                record = LegacyEncoding.namesOnlyV1(event)
            }
            if case .accountOpened(let a, _, _, _) = body, numbers[a] == nil {
                numbers[a] = UInt32(opened.count)
                opened.append(a)
            }
            records.append(record)
        }
        return records
    }
}
