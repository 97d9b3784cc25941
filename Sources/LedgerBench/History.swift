// A deterministic history for the benchmark: A accounts opened, then N operations
// (deposits, withdrawals, transfers) that never break an invariant. Written straight
// through the storage writer in batches, as an import would.

import LedgerDomain
import LedgerStorage

struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum History {
    static let startMicros: Int64 = 1_577_836_800_000_000 // 2020-01-01T00:00:00Z
    static let stepMicros: Int64 = 1_000_000

    static func name(_ i: Int) -> String {
        let digits = String(i)
        return "acc_" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    /// Writes `operations` events over `accounts` accounts into the store at `root`; returns the last timestamp.
    @discardableResult
    static func write(root: String, accounts: Int, operations: Int, seed: UInt64 = 42) throws -> Int64 {
        try FileSystem.makeDirectory(root)
        let lock = try StoreLock.acquire(root + "/LOCK", timeoutMillis: 1000)
        defer { lock.release() }
        let writer = try LogWriter(directory: root + "/log", segmentBytes: Limits.segmentBytesDefault, holding: lock)
        var rng = SplitMix64(state: seed)
        var balances = [Int64](repeating: 0, count: accounts)
        let ids = (0..<accounts).map { AccountID(trusted: name($0)) }
        let usd = Currency(trusted: "USD")
        var t = startMicros
        var batch = writer.makeBatch()
        /// `a` and `b`: the indices of the accounts the event names (opened in order: account i is number i).
        func add(_ event: Event, _ a: Int = 0, _ b: Int = 0) throws {
            let e = EventCodec.encode(event, numbers: { $0 == ids[a] ? UInt32(a) : UInt32(b) })
            try batch.append(timestampMicros: t, type: e.type, schemaVersion: e.version, payload: e.payload)
            t += stepMicros
            if batch.count == 10_000 {
                try writer.append(batch)
                batch = writer.makeBatch()
            }
        }
        for i in 0..<min(accounts, operations) {
            try add(Event(.accountOpened(account: ids[i], currency: usd, scale: 2, overdraft: 0)))
        }
        for n in 0..<max(0, operations - accounts) {
            let a = Int.random(in: 0..<accounts, using: &rng)
            let amount = Int64.random(in: 1...50_000, using: &rng)
            switch rng.next() % 10 {
            case 0...4:
                balances[a] += amount
                try add(Event(.moneyDeposited(account: ids[a], amount: amount), metadata: EventMetadata(id: "op-\(n)")), a)
            case 5...6 where balances[a] >= amount:
                balances[a] -= amount
                try add(Event(.moneyWithdrawn(account: ids[a], amount: amount)), a)
            default:
                let b = (a + 1 + Int.random(in: 0..<(accounts - 1), using: &rng)) % accounts
                if balances[a] >= amount {
                    balances[a] -= amount
                    balances[b] += amount
                    try add(Event(.moneyTransferred(from: ids[a], to: ids[b], amount: amount)), a, b)
                } else {
                    balances[a] += amount
                    try add(Event(.moneyDeposited(account: ids[a], amount: amount)), a)
                }
            }
        }
        if !batch.isEmpty { try writer.append(batch) }
        return t - stepMicros
    }
}
