// The accounts an import touches, as of the line being validated. An account's Strings
// (name, currency) and its fixed fields live in an `Account` loaded once; what a money
// line reads and changes lives apart in a flat `Funds` record (no String in it), so the
// validating loop neither copies an Account nor retains or releases anything per line.
// A money line's reads of an account are its Funds (48 bytes: with its number, name hash
// and whether it is loaded) and its name: two cache lines, both prefetched lines ahead.

import LedgerDomain
import LedgerStorage

struct ImportAccounts {
    /// What a deposit, withdrawal or transfer reads and changes of an account.
    struct Funds {
        var balance: Int64 = 0
        var overdraft: Int64 = 0
        var version: UInt64 = 0
        var lastPosition: UInt64 = 0
        /// The account's currency, numbered by this import (equal numbers: equal currencies).
        var currency: Int32 = -1
        var scale: Int16 = 0
        /// Account.Status's raw value; 0: the account does not exist (yet).
        var status: UInt8 = 0
        /// Whether it was looked up in the views (its first use).
        var loaded = false
        /// Its number (events carry it); UInt32.max until it is loaded or opened.
        var number = UInt32.max
        /// HistoryView.nameHash of its name (the history builder's key).
        var nameHash: UInt32 = 0

        var isOpen: Bool { status == Account.Status.open.rawValue }
    }

    /// Each account's name, in order of first mention.
    private(set) var ids: [AccountID] = []
    /// The account as last set or loaded: its name, currency, scale and opening are current;
    /// its balance, version, status, overdraft and last position are those of `funds`.
    private var identities: [Account?] = []
    private(set) var funds: [Funds] = []
    /// The number the next account opened gets.
    private(set) var nextNumber: UInt32

    /// `firstNewNumber`: how many accounts the store has (the number of the first one this import opens).
    init(firstNewNumber: Int) {
        nextNumber = UInt32(firstNewNumber)
    }
    /// The parser's account numbers → index.
    private var byNumber: [Int] = []
    /// Name → index: for the names the parser numbers and for those a reversal finds in the
    /// event it undoes (one entry per account, however it was reached).
    private var byName: [AccountID: Int] = [:]
    private var currencies: [Currency: Int32] = [:]

    var count: Int { ids.count }

    /// Takes in the names the parser numbered, in order of number.
    mutating func add(numbered names: [(id: AccountID, nameHash: UInt32)]) {
        for (id, hash) in names { byNumber.append(index(named: id, hash: hash)) }
    }

    /// The index of the account the parser numbered `number`.
    func index(ofNumber number: Int32) -> Int { byNumber[Int(number)] }

    /// The index of account `id`, added (not yet loaded) when new.
    mutating func index(named id: AccountID, hash: UInt32? = nil) -> Int {
        if let i = byName[id] { return i }
        ids.append(id)
        identities.append(nil)
        var f = Funds()
        f.nameHash = hash ?? HistoryView.nameHash(id.name)
        funds.append(f)
        byName[id] = ids.count - 1
        return ids.count - 1
    }

    /// Starts loading the funds and name of the account the parser numbered `number` (a caller a
    /// few lines ahead).
    func prefetch(number: Int32) {
        guard number >= 0 && Int(number) < byNumber.count else { return }
        let i = byNumber[Int(number)]
        funds.withUnsafeBufferPointer { Prefetch.forRead($0.baseAddress! + i) }
        ids.withUnsafeBufferPointer { Prefetch.forRead($0.baseAddress! + i) }
    }

    /// Loads account `i` from the views on its first use.
    mutating func load(_ i: Int, from views: Views) throws {
        guard !funds[i].loaded else { return }
        let found = try views.numberedAccount(ids[i])
        set(i, found?.account)
        if let number = found?.number { funds[i].number = number }
        funds[i].loaded = true
    }

    /// Account `i`'s number, for an event that names it.
    func number(_ i: Int) -> UInt32 {
        precondition(funds[i].number != .max, "account \(ids[i]) has no number")
        return funds[i].number
    }

    /// HistoryView.nameHash of account `i`'s name.
    func nameHash(_ i: Int) -> UInt32 { funds[i].nameHash }

    /// Account `i` (`before`, nil if it did not exist) as of event `body` at `position`; an
    /// account it opens gets the next number.
    mutating func set(_ i: Int, after body: EventBody, at position: UInt64, before: Account?) {
        if let before {
            set(i, before.applying(body, at: position))
        } else if let opened = Account.opened(body, at: position) {
            set(i, opened)
            funds[i].number = nextNumber
            nextNumber += 1
        }
    }

    /// Account `i` as of now; nil when it does not exist.
    func account(_ i: Int) -> Account? {
        let f = funds[i]
        guard f.status != 0, var a = identities[i] else { return nil }
        a.balance = f.balance
        a.overdraft = f.overdraft
        a.version = f.version
        a.lastPosition = f.lastPosition
        a.status = Account.Status(rawValue: f.status)!
        return a
    }

    /// Account `i` becomes `account` (nil: it does not exist); whether it is loaded, its number
    /// and its name hash stay.
    mutating func set(_ i: Int, _ account: Account?) {
        identities[i] = account
        let kept = funds[i]
        guard let a = account else {
            funds[i] = Funds(loaded: kept.loaded, number: kept.number, nameHash: kept.nameHash)
            return
        }
        let next = Int32(currencies.count)
        let currency = currencies[a.currency, default: next]
        if currency == next { currencies[a.currency] = next }
        funds[i] = Funds(balance: a.balance, overdraft: a.overdraft, version: a.version, lastPosition: a.lastPosition,
                         currency: currency, scale: Int16(a.scale), status: a.status.rawValue,
                         loaded: kept.loaded, number: kept.number, nameHash: kept.nameHash)
    }

    /// A money event's effect on account `i` (`Account.move`): `delta` minor units in, one more version.
    mutating func move(_ i: Int, _ delta: Int64, at position: UInt64) {
        funds[i].balance = funds[i].balance &+ delta
        funds[i].version += 1
        funds[i].lastPosition = position
    }

    /// The accounts whose last event is after `position`, in their current state, with their numbers.
    func changed(after position: UInt64) -> [Views.NumberedAccount] {
        funds.indices.compactMap { i in
            guard funds[i].lastPosition > position, let a = account(i) else { return nil }
            return (a, number(i))
        }
    }
}
