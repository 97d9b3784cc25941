@testable import LedgerDomain
import LedgerTestSupport
import Testing

/// Accounts sorted by name through 16-byte prefixes give what a stable sort with AccountID's
/// `<` gives: for names shorter and longer than 16 bytes, names that share their first 16
/// bytes (decided by the whole names), one name the prefix of another, and repeated names.
@Suite struct AccountOrderTests {
    func account(_ name: String, _ tag: Int64) -> Account {
        var a = Account(id: AccountID(trusted: name), currency: try! Currency(validating: "USD"), scale: 2, overdraft: 0)
        a.balance = tag
        return a
    }

    @Test func sortedByNameIsTheStableOrderOfTheNames() {
        var rng = SplitMix64(seed: 11)
        let alphabet = Array("Zab09_-.:/".utf8)
        let stems = ["", "a", "acc_", "acc_000000000000", "acc_0000000000000", "customer/europe/", "customer/europe/x"]
        for round in 0..<200 {
            let count = Int(rng.next() % 60)
            var accounts: [Account] = []
            for i in 0..<count {
                let stem = stems[Int(rng.next() % UInt64(stems.count))]
                let tail = (0..<Int(rng.next() % 24)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
                var name = stem + String(decoding: tail, as: UTF8.self)
                if name.isEmpty { name = "z" }
                // Now and then the same name again, or a name that is a prefix of another.
                if i > 0 && rng.next() % 8 == 0 { name = accounts[Int(rng.next() % UInt64(i))].id.name }
                if i > 0 && rng.next() % 8 == 0 { name = String(accounts[Int(rng.next() % UInt64(i))].id.name.dropLast()) + "" }
                if name.isEmpty { name = "y" }
                accounts.append(account(String(name.prefix(AccountID.bytesMax)), Int64(i)))
            }
            // The reference: an insertion sort, stable, with `<` alone.
            var expected: [Account] = []
            for a in accounts {
                var k = expected.count
                while k > 0 && a.id < expected[k - 1].id { k -= 1 }
                expected.insert(a, at: k)
            }
            let sorted = accounts.sortedByName()
            #expect(sorted.map(\.id.name) == expected.map(\.id.name), "round \(round)")
            #expect(sorted.map(\.balance) == expected.map(\.balance), "round \(round): equal names keep their order")
            var inPlace = accounts
            inPlace.sortByName()
            #expect(inPlace == sorted)
        }
    }

    /// The prefix orders names as their bytes do, the zero padding included.
    @Test func prefixOrderAgreesWithNameOrder() {
        let names = ["a", "a.", "aa", "ab", "acc_000000000000", "acc_0000000000000", "acc_000000000001", "b", "Z", "0", "/"]
        for x in names {
            for y in names {
                let (p, q) = (AccountID(trusted: x).orderPrefix, AccountID(trusted: y).orderPrefix)
                let prefixLess = p.0 != q.0 ? p.0 < q.0 : p.1 < q.1
                if p != q { #expect(prefixLess == (AccountID(trusted: x) < AccountID(trusted: y)), "\(x) vs \(y)") }
            }
        }
    }
}
