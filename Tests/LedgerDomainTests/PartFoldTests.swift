@testable import LedgerDomain
import LedgerTestSupport
import Testing

/// A fold split into parts (the first into the state, the later ones into PartFolds merged in
/// order) against the fold in order, on histories sound and unsound.
@Suite struct PartFoldTests {
    typealias Record = RandomHistory.Record

    /// Folds records `range` (position = index + 1) into `folder` in batches of random sizes,
    /// as a replay does.
    static func fold<F: MoneyFolding>(_ records: [Record], _ range: Range<Int>, into folder: inout F, rng: inout SplitMix64) throws {
        var start = range.lowerBound
        while start < range.upperBound {
            let end = min(range.upperBound, start + Int.random(in: 1...300, using: &rng))
            // The batch's payloads back to back, as a segment holds them.
            var bytes: [UInt8] = [], starts: [Int] = []
            for r in records[start..<end] {
                starts.append(bytes.count)
                bytes += r.payload
            }
            starts.append(bytes.count)
            try bytes.withUnsafeBytes { all in
                func payload(_ k: Int) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: all[starts[k]..<starts[k + 1]]) }
                let digests = (start..<end).map { MoneyDigest(type: records[$0].type, version: records[$0].version, payload: payload($0 - start)) }
                try digests.withUnsafeBufferPointer { digests in
                    try folder.fold(digests, firstPosition: UInt64(start + 1)) { k in (records[start + k].type, records[start + k].version, payload(k)) }
                }
            }
            start = end
        }
    }

    static func inOrder(_ records: [Record]) throws -> CompactState {
        var state = CompactState()
        for (i, r) in records.enumerated() {
            _ = try r.payload.withUnsafeBytes { try state.fold(type: r.type, version: r.version, payload: $0, at: UInt64(i + 1)) }
        }
        return state
    }

    /// Folds the parts between `cuts` and merges them in order; a part the merge refuses is
    /// folded in order instead. Returns the state and how many parts were merged and refused.
    static func inParts(_ records: [Record], cuts: [Int], rng: inout SplitMix64) throws -> (CompactState, merged: Int, refused: Int) {
        let bounds = [0] + cuts + [records.count]
        var state = CompactState()
        try fold(records, bounds[0]..<bounds[1], into: &state, rng: &rng)
        var merged = 0, refused = 0
        for k in 1..<(bounds.count - 1) {
            var part = PartFold()
            try fold(records, bounds[k]..<bounds[k + 1], into: &part, rng: &rng)
            if try state.merge([part]) {
                merged += 1
            } else {
                refused += 1
                try fold(records, bounds[k]..<bounds[k + 1], into: &state, rng: &rng)
            }
        }
        return (state, merged, refused)
    }

    @Test(arguments: [false, true])
    func aFoldInPartsEqualsTheFoldInOrder(unsound: Bool) throws {
        var merged = 0, refused = 0
        for seed in UInt64(1)...6 {
            let records = RandomHistory.records(seed: seed, events: 4_000, unsound: unsound)
            let expected = try Self.inOrder(records)
            var rng = SplitMix64(seed: seed &* 31)
            for _ in 0..<8 {
                let cuts = (0..<Int.random(in: 1...4, using: &rng)).map { _ in Int.random(in: 0...records.count, using: &rng) }.sorted()
                let (state, m, r) = try Self.inParts(records, cuts: cuts, rng: &rng)
                #expect(state.accounts == expected.accounts, "seed \(seed), cuts \(cuts)")
                #expect(state.position == expected.position, "seed \(seed), cuts \(cuts)")
                merged += m
                refused += r
            }
        }
        // A sound history's parts always merge; an unsound one's are refused when they used
        // an account before its opening or under another's number (and merge otherwise).
        #expect(merged > 0)
        if unsound { #expect(refused > 0) } else { #expect(refused == 0) }
    }

    /// The records after the first part cut in chunks, dealt to up to three PartFolds that each
    /// fold theirs from the last back (as the threads of a replay claim them), merged together:
    /// the state the fold in order gives, or a refusal and then that state in order.
    @Test(arguments: [false, true])
    func partFoldsTakeChunksInAnyOrderAndMergeTogether(unsound: Bool) throws {
        var merged = 0, refused = 0
        for seed in UInt64(11)...16 {
            let records = RandomHistory.records(seed: seed, events: 3_000, unsound: unsound)
            let expected = try Self.inOrder(records)
            var rng = SplitMix64(seed: seed)
            for _ in 0..<6 {
                let first = Int.random(in: 0...records.count / 2, using: &rng)
                let cuts = [first] + (0..<Int.random(in: 1...12, using: &rng)).map { _ in Int.random(in: first...records.count, using: &rng) }.sorted()
                    + [records.count]
                var state = CompactState()
                try Self.fold(records, 0..<first, into: &state, rng: &rng)
                var parts = (0..<Int.random(in: 1...3, using: &rng)).map { _ in PartFold() }
                for k in (0..<(cuts.count - 1)).reversed() {
                    try Self.fold(records, cuts[k]..<cuts[k + 1], into: &parts[Int.random(in: 0..<parts.count, using: &rng)], rng: &rng)
                }
                if try state.merge(parts) {
                    merged += 1
                } else {
                    refused += 1
                    try Self.fold(records, first..<records.count, into: &state, rng: &rng)
                }
                #expect(state.accounts == expected.accounts, "seed \(seed), cuts \(cuts)")
                #expect(state.position == expected.position, "seed \(seed), cuts \(cuts)")
            }
        }
        if unsound { #expect(refused > 0) } else { #expect(refused == 0 && merged == 36) }
    }

    /// An account used before its opening in a chunk folded after a later chunk that uses it
    /// too: its first use is the earlier one, and the merge refuses the part.
    @Test func theFirstUseIsTheEarliestWhateverOrderTheChunksCameIn() throws {
        let ids = ["alice", "bob"].map { AccountID(trusted: $0) }
        let usd = Currency(trusted: "USD")
        let numbers: EventCodec.AccountNumbers = { UInt32(ids.firstIndex(of: $0)!) }
        let records = [EventCodec.encode(Event(.accountOpened(account: ids[0], currency: usd, scale: 2, overdraft: 0)), numbers: numbers),
                       EventCodec.encode(Event(.moneyDeposited(account: ids[0], amount: 1)), numbers: numbers),
                       EventCodec.encode(Event(.moneyDeposited(account: ids[0], amount: 2)), numbers: numbers),
                       EventCodec.encode(Event(.moneyDeposited(account: ids[1], amount: 5)), numbers: numbers),
                       EventCodec.encode(Event(.accountOpened(account: ids[1], currency: usd, scale: 2, overdraft: 0)), numbers: numbers),
                       EventCodec.encode(Event(.moneyDeposited(account: ids[1], amount: 7)), numbers: numbers)]
        var rng = SplitMix64(seed: 1)
        var state = CompactState()
        try Self.fold(records, 0..<3, into: &state, rng: &rng)
        var part = PartFold()
        try Self.fold(records, 5..<6, into: &part, rng: &rng)
        try Self.fold(records, 3..<5, into: &part, rng: &rng)
        #expect(try state.merge([part]) == false)
        try Self.fold(records, 3..<6, into: &state, rng: &rng)
        #expect(state.accounts == (try Self.inOrder(records)).accounts)
        #expect(state.accounts.map(\.balance) == [3, 7])
    }

    /// Each thing a part takes on trust, alone: the merge refuses the part, and folding it in
    /// order instead gives what the fold in order gives.
    @Test func aMergeRefusesWhatThePartTookOnTrust() throws {
        let ids = ["alice", "bob", "carol"].map { AccountID(trusted: $0) }
        let usd = Currency(trusted: "USD")
        func record(_ body: EventBody, _ numbers: @escaping EventCodec.AccountNumbers) -> Record {
            EventCodec.encode(Event(body), numbers: numbers)
        }
        let right: EventCodec.AccountNumbers = { UInt32(ids.firstIndex(of: $0)!) }
        let opening = [record(.accountOpened(account: ids[0], currency: usd, scale: 2, overdraft: 0), right),
                       record(.accountOpened(account: ids[1], currency: usd, scale: 2, overdraft: 0), right)]
        let cases: [(String, [Record], refused: Bool)] = [
            ("sound", [record(.moneyDeposited(account: ids[0], amount: 5), right),
                       record(.accountOpened(account: ids[2], currency: usd, scale: 2, overdraft: 0), right),
                       record(.moneyTransferred(from: ids[2], to: ids[1], amount: 3), right)], false),
            ("used before its opening", [record(.moneyDeposited(account: ids[2], amount: 5), right),
                                         record(.accountOpened(account: ids[2], currency: usd, scale: 2, overdraft: 0), right)], true),
            ("another account's number", [record(.moneyDeposited(account: ids[0], amount: 5), { _ in 1 })], true),
            ("a number no account has", [record(.moneyWithdrawn(account: ids[1], amount: 5), { _ in 2 })], true),
            // The same number under two names in the part: the second is kept and found by name
            // at the merge, as in order (merged, not refused).
            ("one number, two names", [record(.moneyDeposited(account: ids[0], amount: 5), { _ in 0 }),
                                       record(.moneyDeposited(account: ids[1], amount: 9), { _ in 0 })], false),
        ]
        // Two deposits first in each later part, so that number 2 is one an account could have
        // by then (an earlier position could not have three accounts: such a number is kept).
        let filler = [record(.moneyDeposited(account: ids[0], amount: 1), right), record(.moneyDeposited(account: ids[0], amount: 2), right)]
        for (label, later, refused) in cases {
            let records = opening + filler + later
            let expected = try Self.inOrder(records)
            var rng = SplitMix64(seed: 5)
            let (state, merged, refusedCount) = try Self.inParts(records, cuts: [opening.count], rng: &rng)
            #expect(state.accounts == expected.accounts, "\(label)")
            #expect(merged == (refused ? 0 : 1) && refusedCount == (refused ? 1 : 0), "\(label)")
        }
    }

    /// A number no account can have yet (account n needs n + 1 openings before it) is not
    /// summed but kept: a damaged or hostile number never sizes the part's table.
    @Test func aNumberNoAccountCanHaveYetIsKeptNotSummed() throws {
        let alice = AccountID(trusted: "alice")
        let opening = EventCodec.encode(Event(.accountOpened(account: alice, currency: Currency(trusted: "USD"), scale: 2, overdraft: 0)), numbers: { _ in 0 })
        for number: UInt32 in [1, 2, 5_000_000] {
            let deposit = EventCodec.encode(Event(.moneyDeposited(account: alice, amount: 5)), numbers: { _ in number })
            var rng = SplitMix64(seed: UInt64(number))
            var part = PartFold()
            try Self.fold([opening, deposit], 1..<2, into: &part, rng: &rng)
            #expect(part.kept.count == 1 && part.changes.count <= 2, "number \(number): \(part.changes.count) entries")
            let (state, _, _) = try Self.inParts([opening, deposit], cuts: [1], rng: &rng)
            #expect(state.accounts == (try Self.inOrder([opening, deposit])).accounts)
            #expect(state.accounts.first?.balance == 5)
        }
    }

    /// A record that does not decode is an error when the part meets it, as in order.
    @Test func aPartThrowsForARecordThatDoesNotDecode() throws {
        var part = PartFold()
        let (_, _, payload) = EventCodec.encode(Event(.moneyDeposited(account: AccountID(trusted: "a"), amount: 5)), numbers: { _ in 0 })
        #expect(throws: DomainError.self) {
            try payload.withUnsafeBytes { bytes in
                try [MoneyDigest(type: 99, version: 1, payload: bytes)].withUnsafeBufferPointer { all in
                    try part.fold(all, firstPosition: 1) { _ in (99, 1, bytes) }
                }
            }
        }
    }
}
