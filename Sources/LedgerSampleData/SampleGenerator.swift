// A deterministic history for demos, tests and benchmarks: seeded, strictly increasing
// timestamps, a mix of opens, deposits, withdrawals and transfers that never breaks an
// invariant. It keeps its own balances (plain Int64 cents, nothing from ledger's fold), so
// its expected final and midpoint balances are an independent oracle.

public struct SampleGenerator {
    public let accounts: Int
    public let operations: Int
    public private(set) var emitted = 0
    /// Balances in cents by account number; nil until opened.
    public private(set) var balances: [Int64?]
    /// Timestamp (µs) of the last emitted operation.
    public private(set) var lastMicros: Int64
    private var rng: UInt64
    private var opened = 0
    private var versions: [Int]

    public static let defaultStartMicros: Int64 = 1_577_836_800_000_000 // 2020-01-01T00:00:00Z

    public init(seed: UInt64, accounts: Int, operations: Int, startMicros: Int64 = defaultStartMicros) {
        precondition(accounts >= 2 && operations >= accounts)
        self.accounts = accounts
        self.operations = operations
        balances = Array(repeating: nil, count: accounts)
        versions = Array(repeating: 0, count: accounts)
        lastMicros = startMicros
        rng = seed
    }

    public static func name(_ i: Int) -> String {
        let digits = String(i)
        return "acc_" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    /// SplitMix64.
    private mutating func random() -> UInt64 {
        rng &+= 0x9E37_79B9_7F4A_7C15
        var z = rng
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    private mutating func below(_ n: Int) -> Int { Int(random() % UInt64(n)) }

    public struct Operation: Equatable {
        public enum Kind: String { case open, deposit, withdraw, transfer }
        public let kind: Kind
        public let account: Int
        public let other: Int?
        public let cents: Int64
        public let micros: Int64
        public let id: String?
        /// Versions of the accounts after this operation (for the sqlite comparison table).
        public let version: Int
    }

    /// The next operation, or nil after `operations`.
    public mutating func next() -> Operation? {
        guard emitted < operations else { return nil }
        lastMicros += Int64(1 + below(120)) * 1_000_000 + Int64(below(1_000_000))
        let n = emitted
        emitted += 1
        // Open every account by the time a third of the operations are done; at least two first.
        let mustOpen = opened < 2 || (opened < accounts && below(operations / 3 + 1) < accounts - opened + 1)
        if mustOpen || (opened < accounts && below(20) == 0) && opened < accounts {
            let a = opened
            opened += 1
            balances[a] = 0
            versions[a] += 1
            return Operation(kind: .open, account: a, other: nil, cents: 0, micros: lastMicros, id: nil, version: versions[a])
        }
        let a = below(opened)
        let cents = Int64(1 + below(Int(500_00)))
        let roll = below(100)
        let id = "op-\(n)"
        if roll < 25, let b = balances[a], b >= cents {
            balances[a] = b - cents
            versions[a] += 1
            return Operation(kind: .withdraw, account: a, other: nil, cents: cents, micros: lastMicros, id: id, version: versions[a])
        }
        if roll < 55, let b = balances[a], b >= cents {
            var c = below(opened - 1)
            if c >= a { c += 1 }
            balances[a] = b - cents
            balances[c] = balances[c]! + cents
            versions[a] += 1
            versions[c] += 1
            return Operation(kind: .transfer, account: a, other: c, cents: cents, micros: lastMicros, id: id, version: versions[a])
        }
        balances[a] = balances[a]! + cents
        versions[a] += 1
        return Operation(kind: .deposit, account: a, other: nil, cents: cents, micros: lastMicros, id: id, version: versions[a])
    }

    public static func money(_ cents: Int64) -> String {
        let sign = cents < 0 ? "-" : ""
        let m = cents.magnitude
        let frac = m % 100
        return "\(sign)\(m / 100).\(frac < 10 ? "0" : "")\(frac)"
    }

    public static func rfc3339(_ micros: Int64) -> String {
        // Days since the epoch → civil date (H. Hinnant), written out here so the generator stays independent.
        let days = micros / 86_400_000_000
        let rem = micros - days * 86_400_000_000
        let z = days + 719_468
        let era = z / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let s = rem / 1_000_000, us = rem % 1_000_000
        let usText = String(us)
        return "\(y)-\(two(m))-\(two(d))T\(two(s / 3600)):\(two(s / 60 % 60)):\(two(s % 60)).\(String(repeating: "0", count: 6 - usText.count))\(usText)Z"
    }

    /// The operation as an import line.
    public static func ndjson(_ op: Operation) -> String {
        let at = rfc3339(op.micros)
        switch op.kind {
        case .open:
            return "{\"op\":\"open\",\"account\":\"\(name(op.account))\",\"at\":\"\(at)\"}"
        case .deposit, .withdraw:
            return "{\"op\":\"\(op.kind.rawValue)\",\"account\":\"\(name(op.account))\",\"amount\":\"\(money(op.cents))\",\"at\":\"\(at)\",\"id\":\"\(op.id!)\"}"
        case .transfer:
            return "{\"op\":\"transfer\",\"from\":\"\(name(op.account))\",\"to\":\"\(name(op.other!))\",\"amount\":\"\(money(op.cents))\",\"at\":\"\(at)\",\"id\":\"\(op.id!)\"}"
        }
    }

    /// Balances of the opened accounts as a JSON object {"acc_000001": "12.34", …}, by name.
    public func balancesJSON() -> String {
        var parts: [String] = []
        for (i, b) in balances.enumerated() { if let b { parts.append("\"\(Self.name(i))\":\"\(Self.money(b))\"") } }
        return "{" + parts.joined(separator: ",") + "}"
    }
}
