@testable import LedgerDomain
import LedgerTestSupport
import Testing

@Suite struct MoneyTests {
    func units(_ text: String, _ scale: Int) throws -> Int64 { try DecimalText.parse(text).minorUnits(scale: scale) }

    @Test func formatRoundTripsThroughParseAtEveryScale() throws {
        var rng = SplitMix64(seed: 3)
        for _ in 0..<5000 {
            let scale = Int.random(in: 0...18, using: &rng)
            let value = Int64(bitPattern: rng.next()) >> UInt64.random(in: 0...63, using: &rng)
            let text = Money.format(value, scale: scale)
            let digits = text.filter { $0 != "-" && $0 != "." }
            #expect(text.hasPrefix("-") == (value < 0))
            #expect(scale == 0 ? !text.contains(".") : text.split(separator: ".").last?.count == scale, "\(value) \(scale) → \(text)")
            #expect(digits.count == max(String(value.magnitude).count, scale + 1), "\(value) \(scale) → \(text)")
            if value >= 0 { #expect(try units(text, scale) == value, "\(value) \(scale) → \(text)") }
        }
        #expect(Money.format(0, scale: 0) == "0" && Money.format(0, scale: 2) == "0.00" && Money.format(-1, scale: 0) == "-1")
    }

    @Test func decimalsAreExact() throws {
        let sum = try units("0.10", 2) + units("0.20", 2)
        #expect(Money.format(sum, scale: 2) == "0.30")
        #expect(try units("12", 2) == 1200)
        #expect(try units("12.5", 2) == 1250)
        #expect(try units("12.34", 2) == 1234)
        #expect(try units("0.001", 3) == 1)
        #expect(try units("7", 0) == 7)
        #expect(Money.format(1, scale: 3) == "0.001")
        #expect(Money.format(-5, scale: 2) == "-0.05")
        #expect(Money.format(1_234_567, scale: 0) == "1234567")
        #expect(Money.format(Int64.min, scale: 2) == "-92233720368547758.08")
        #expect(Money.format(Int64.max, scale: 18) == "9.223372036854775807")
    }

    @Test(arguments: ["", "-5", "+5", "1e3", "abc", "1.", ".5", "1.2.3", " 1", "1 ", "1,5", "٣", "99999999999999999999"])
    func invalidAmountsAreRejected(text: String) {
        #expect(throws: DecimalText.ParseError.self) { try DecimalText.parse(text) }
    }

    @Test func tooManyDecimalsForTheScaleIsRejected() {
        #expect(throws: DecimalText.ParseError.self) { try DecimalText.parse("12.345").minorUnits(scale: 2) }
        #expect(throws: DecimalText.ParseError.self) { try DecimalText.parse("1.5").minorUnits(scale: 0) }
    }

    /// Digits give what Int64's own parsing gives, at every length from 1 to 24 (beyond 18
    /// digits a value can overflow: rejected, never wrapped), with and without a point.
    @Test func digitsParseExactlyAtEveryLength() throws {
        var rng = SplitMix64(seed: 8)
        for length in 1...24 {
            for _ in 0..<200 {
                var digits = String((0..<length).map { _ in Character(String(Int.random(in: 0...9, using: &rng))) })
                if Int.random(in: 0..<4, using: &rng) == 0 { digits = String(repeating: "9", count: length) }
                let expected = Int64(digits)
                if let expected {
                    #expect(try DecimalText.parse(digits).units == expected, "\(digits)")
                } else {
                    #expect(throws: DecimalText.ParseError.self, "\(digits)") { try DecimalText.parse(digits) }
                }
                guard length >= 2 else { continue }
                let cut = Int.random(in: 1..<length, using: &rng)
                let pointed = String(digits.prefix(cut)) + "." + String(digits.dropFirst(cut))
                if let expected {
                    let d = try DecimalText.parse(pointed)
                    #expect(d.units == expected && d.fractionDigits == length - cut, "\(pointed)")
                } else {
                    #expect(throws: DecimalText.ParseError.self, "\(pointed)") { try DecimalText.parse(pointed) }
                }
            }
        }
    }

    @Test func scalingOverflowIsRejectedNotTrapped() throws {
        #expect(try DecimalText.parse("9223372036854775807").minorUnits(scale: 0) == Int64.max)
        #expect(throws: DecimalText.ParseError.self) { try DecimalText.parse("9223372036854775807").minorUnits(scale: 1) }
        #expect(throws: DecimalText.ParseError.self) { try DecimalText.parse("9223372036854775808") }
    }

    @Test func sumsAtInt64EdgesReportOverflow() {
        #expect(Money.add(Int64.max, 1) == nil)
        #expect(Money.add(Int64.max - 1, 1) == Int64.max)
        #expect(Money.subtract(Int64.min, 1) == nil)
        #expect(Money.subtract(-Int64.max, 1) == Int64.min)
    }
}

@Suite struct DecideTests {
    let alice = try! AccountID(validating: "alice")
    let bob = try! AccountID(validating: "bob")

    func account(_ id: AccountID, balance: Int64, overdraft: Int64 = 0, scale: Int = 2, currency: String = "USD") -> Account {
        var a = Account(id: id, currency: Currency(trusted: currency), scale: scale, overdraft: overdraft)
        a.balance = balance
        a.version = 1
        return a
    }

    func rejection(_ body: () throws -> Event) -> String? {
        do { _ = try body(); return nil } catch DomainError.rejected(let r) { return r.code.rawValue } catch { return "other: \(error)" }
    }

    @Test func depositOverflowIsABalanceOverflowRejection() throws {
        let state = [alice: account(alice, balance: Int64.max - 5)]
        #expect(rejection { try Decide.decide(.deposit(account: alice, amount: DecimalText.parse("0.06")), options: .init(), accounts: { state[$0] }) } == "balance_overflow")
        #expect(rejection { try Decide.decide(.deposit(account: alice, amount: DecimalText.parse("0.05")), options: .init(), accounts: { state[$0] }) } == nil)
    }

    @Test func withdrawRespectsOverdraftExactly() throws {
        let state = [alice: account(alice, balance: 100, overdraft: 50)]
        #expect(rejection { try Decide.decide(.withdraw(account: alice, amount: DecimalText.parse("1.50")), options: .init(), accounts: { state[$0] }) } == nil)
        #expect(rejection { try Decide.decide(.withdraw(account: alice, amount: DecimalText.parse("1.51")), options: .init(), accounts: { state[$0] }) } == "insufficient_funds")
    }

    @Test func withdrawFromMostNegativeBalanceOverflowsCleanly() throws {
        let state = [alice: account(alice, balance: Int64.min + 1, overdraft: Int64.max)]
        #expect(rejection { try Decide.decide(.withdraw(account: alice, amount: DecimalText.parse("0.02")), options: .init(), accounts: { state[$0] }) } == "balance_overflow")
    }

    @Test func transferRules() throws {
        var state = [alice: account(alice, balance: 1000), bob: account(bob, balance: 0, currency: "EUR")]
        #expect(rejection { try Decide.decide(.transfer(from: alice, to: bob, amount: DecimalText.parse("1")), options: .init(), accounts: { state[$0] }) } == "currency_mismatch")
        state[bob] = account(bob, balance: 0, scale: 3)
        #expect(rejection { try Decide.decide(.transfer(from: alice, to: bob, amount: DecimalText.parse("1")), options: .init(), accounts: { state[$0] }) } == "currency_mismatch")
        state[bob] = account(bob, balance: Int64.max)
        #expect(rejection { try Decide.decide(.transfer(from: alice, to: bob, amount: DecimalText.parse("1")), options: .init(), accounts: { state[$0] }) } == "balance_overflow")
        #expect(throws: DomainError.self) { try Decide.decide(.transfer(from: alice, to: alice, amount: DecimalText.parse("1")), options: .init(), accounts: { state[$0] }) }
    }

    @Test func versionConflictAndClosedAccounts() throws {
        var a = account(alice, balance: 0)
        #expect(rejection { try Decide.decide(.deposit(account: alice, amount: DecimalText.parse("1")), options: .init(expectVersion: 2), accounts: { [alice: a][$0] }) } == "version_conflict")
        a.status = .closed
        #expect(rejection { try Decide.decide(.deposit(account: alice, amount: DecimalText.parse("1")), options: .init(), accounts: { [alice: a][$0] }) } == "account_closed")
        #expect(rejection { try Decide.decide(.close(account: bob), options: .init(), accounts: { _ in nil }) } == "unknown_account")
        #expect(rejection { try Decide.decide(.open(account: alice, currency: Currency(trusted: "USD"), scale: 2, overdraft: nil), options: .init(), accounts: { [alice: a][$0] }) } == "account_exists")
        let funded = account(alice, balance: 1)
        #expect(rejection { try Decide.decide(.close(account: alice), options: .init(), accounts: { [alice: funded][$0] }) } == "balance_not_zero")
    }
}

@Suite struct TimestampTests {
    @Test func parsesRFC3339AndDates() throws {
        #expect(try Timestamp.parse("1970-01-01T00:00:00Z").micros == 0)
        #expect(try Timestamp.parse("2024-03-05T09:30:00Z").rfc3339 == "2024-03-05T09:30:00.000000Z")
        #expect(try Timestamp.parse("2024-03-05T09:30:00.5+02:00").rfc3339 == "2024-03-05T07:30:00.500000Z")
        #expect(try Timestamp.parse("2024-03-05t09:30:00.123456z").micros % 1_000_000 == 123_456)
        #expect(try Timestamp.parse("2024-03-05T00:00:00-01:30").rfc3339 == "2024-03-05T01:30:00.000000Z")
        #expect(try Timestamp.parse("2024-02-29").rfc3339 == "2024-02-29T23:59:59.999999Z")
        #expect(try Timestamp.parse("2024-02-29", dateIsEndOfDay: false).rfc3339 == "2024-02-29T00:00:00.000000Z")
        #expect(try Timestamp.parse("1969-12-31T23:59:59.999999Z").micros == -1)
        #expect(try Timestamp.parse("0001-01-01T00:00:00Z").rfc3339 == "0001-01-01T00:00:00.000000Z")
        #expect(try Timestamp.parse("9999-12-31").rfc3339 == "9999-12-31T23:59:59.999999Z")
    }

    @Test(arguments: ["", "2024", "2024-3-5", "2024-02-30", "2023-02-29", "2024-13-01", "2024-00-10", "2024-03-05T24:00:00Z",
                      "2024-03-05T09:60:00Z", "2024-03-05T09:30:00", "2024-03-05T09:30:00+0200", "2024-03-05T09:30:00.Z",
                      "2024-03-05T09:30:00.1234567Z", "2024-03-05T09:30:00Zjunk", "0000-01-01", "x024-03-05"])
    func rejectsInvalidTimes(text: String) {
        #expect(throws: Timestamp.ParseError.self) { try Timestamp.parse(text) }
    }

    @Test func theCommonShapeIsReadAsTheGeneralParserReadsIt() {
        var rng = SplitMix64(seed: 27)
        let fail: (String) -> Timestamp.ParseError = { .invalid($0) }
        var fast = 0
        for _ in 0..<1000 {
            let micros = Int64.random(in: 0...4_102_444_800_000_000, using: &rng)
            var bytes = Array(Timestamp(micros: micros).rfc3339.utf8)
            // Unchanged: the fast path reads it; then every byte after the date, one at a time,
            // set to a value that keeps or breaks the shape.
            var cases = [bytes]
            for k in 10..<bytes.count {
                for v: UInt8 in [0x20, 0x2B, 0x2D, 0x2E, 0x2F, 0x30, 0x32, 0x35, 0x39, 0x3A, 0x3B, 0x3F, 0x5A, 0x74, 0x7A, 0x80, 0xB9, 0xFF,
                                 UInt8(truncatingIfNeeded: rng.next())] {
                    let saved = bytes[k]
                    bytes[k] = v
                    cases.append(bytes)
                    bytes[k] = saved
                }
            }
            cases.append(Array(bytes.dropLast()))
            for c in cases {
                c.withUnsafeBytes { u in
                    let general = try? Timestamp.timeOfDayMicros(u, fail: fail)
                    if let quick = Timestamp.commonTimeOfDayMicros(u) {
                        fast += 1
                        #expect(quick == general, "\(String(decoding: c, as: UTF8.self))")
                    }
                }
            }
            #expect(bytes.withUnsafeBytes { Timestamp.commonTimeOfDayMicros($0) } == micros % 86_400_000_000)
        }
        #expect(fast > 1000)
    }

    @Test func aRememberedDateGivesTheSameTimesAndErrors() {
        // One memo through a run of times (shared dates, a date change, bad dates and times, a
        // date alone): each answer, or error, equals the one parsed without it.
        let texts = ["2024-03-05T09:30:00Z", "2024-03-05T23:59:59.999999Z", "2024-03-05T00:00:00+02:00", "2024-03-05",
                     "2024-03-06T00:00:01Z", "2024-02-29T12:00:00Z", "2024-02-30T12:00:00Z", "2024-03-06T24:00:00Z",
                     "2024-03-06T09:30:00", "2024-03-06 09:30:00.5Z", "2023-02-29T00:00:00Z", "2024-03-06",
                     "2024-03-06T09:30:00Zjunk", "x024-03-06T09:30:00Z", "2024-03-0", "2024-03-06T09:30:00.1234567Z"]
        var memo = Timestamp.DateMemo()
        for round in 0..<2 {
            for text in texts {
                for endOfDay in [true, false] {
                    let plain = Result { try text.utf8CString.withUnsafeBytes { try Timestamp.parse(UnsafeRawBufferPointer(rebasing: $0.dropLast()), dateIsEndOfDay: endOfDay).micros } }
                    let remembered = Result { try text.utf8CString.withUnsafeBytes { try Timestamp.parse(UnsafeRawBufferPointer(rebasing: $0.dropLast()), dateIsEndOfDay: endOfDay, memo: &memo).micros } }
                    switch (plain, remembered) {
                    case (.success(let a), .success(let b)): #expect(a == b, "\(text), round \(round)")
                    case (.failure, .failure): break
                    default: Issue.record("\(text), round \(round): \(plain) against \(remembered)")
                    }
                }
            }
        }
    }

    @Test func instantsAtTheEdgesOfFourDigitYearsFormatAlike() {
        // Years 0...9999 take the 27-byte path, others the general one; both give RFC 3339.
        #expect(Timestamp(micros: 0).rfc3339 == "1970-01-01T00:00:00.000000Z")
        #expect(Timestamp(micros: 253_402_300_799_999_999).rfc3339 == "9999-12-31T23:59:59.999999Z")
        #expect(Timestamp(micros: 253_402_300_800_000_000).rfc3339 == "10000-01-01T00:00:00.000000Z")
        #expect(Timestamp(micros: -62_167_219_200_000_000).rfc3339 == "0000-01-01T00:00:00.000000Z")
        #expect(Timestamp(micros: -62_167_219_200_000_001).rfc3339 == "-0001-12-31T23:59:59.999999Z")
        #expect(Timestamp(micros: 1_709_631_000_123_456).rfc3339 == "2024-03-05T09:30:00.123456Z")
        let bytes = Timestamp(micros: 1_709_631_000_123_456).withRFC3339 { Array($0) }
        #expect(bytes == Array("2024-03-05T09:30:00.123456Z".utf8))
    }

    @Test func extremeInstantsFormatWithoutTrapping() {
        #expect(Timestamp(micros: Int64.min).rfc3339.hasPrefix("-"))
        #expect(Timestamp(micros: Int64.max).rfc3339.hasSuffix("Z"))
        #expect(Timestamp(micros: -1).rfc3339 == "1969-12-31T23:59:59.999999Z")
    }

    @Test func formatThenParseRoundTripsOnRandomInstants() throws {
        let seed: UInt64 = 99
        var rng = SplitMix64(seed: seed)
        for _ in 0..<5000 {
            let micros = Int64.random(in: -62_135_596_800_000_000...253_402_300_799_999_999, using: &rng)
            let t = Timestamp(micros: micros)
            #expect(try Timestamp.parse(t.rfc3339).micros == micros, "seed \(seed): \(micros)")
        }
    }
}

@Suite struct CodecTests {
    @Test func everyEventRoundTrips() throws {
        let a = try AccountID(validating: "acc_1"), b = try AccountID(validating: "acc:2/x")
        let meta = EventMetadata(id: "op-1", memo: "ünïcode \"quoted\"", correlationID: "c", causationID: nil)
        let events: [Event] = [
            Event(.accountOpened(account: a, currency: Currency(trusted: "EUR"), scale: 3, overdraft: 12)),
            Event(.accountClosed(account: a), metadata: meta),
            Event(.moneyDeposited(account: a, amount: Int64.max), metadata: meta),
            Event(.moneyWithdrawn(account: b, amount: 1)),
            Event(.moneyTransferred(from: a, to: b, amount: 5), metadata: EventMetadata(causationID: "z")),
        ]
        let numbers: [AccountID: UInt32] = [a: 7, b: 70_000]
        for e in events + [Event(.moneyReversed(reverses: 9, from: a, to: nil, amount: 3), metadata: meta),
                           Event(.moneyReversed(reverses: 10, from: nil, to: b, amount: 4)),
                           Event(.moneyReversed(reverses: 11, from: b, to: a, amount: 5))] {
            let current = EventCodec.encode(e, numbers: { numbers[$0]! })
            #expect(current.version == 2)
            let isOpen = EventCodec.typeCode(e.body) == .accountOpened
            // Today's layout and the v1 one (names alone) decode to the same event.
            let layouts = isOpen ? [current] : [current, LegacyEncoding.namesOnlyV1(e)]
            for (type, version, payload) in layouts {
                #expect(try EventCodec.decode(type: type, version: version, payload: payload) == e)
                // Every truncation is a clear decode error, never a trap.
                for cut in 0..<payload.count {
                    #expect(throws: DomainError.self) { try EventCodec.decode(type: type, version: version, payload: Array(payload[..<cut])) }
                }
            }
            // The fold's scan finds the numbers in v2 (none in v1) beside the names.
            let scanned = try current.payload.withUnsafeBytes { try EventCodec.scan(type: current.type, version: current.version, payload: $0) }
            var sides: [AccountID?] = e.body.accounts
            if case .moneyReversed(_, let from, let to, _) = e.body { sides = [from, to] }
            if !isOpen {
                #expect(scanned.accountNumber == (sides[0].map { Int32(numbers[$0]!) } ?? -1))
                #expect(scanned.otherNumber == (sides.count > 1 ? sides[1].map { Int32(numbers[$0]!) } ?? -1 : -1))
            }
            // Whether an event names an account is answered the same for both layouts.
            for layout in layouts {
                for id in [a, b, AccountID(trusted: "acc")] {
                    let named = layout.2.withUnsafeBytes {
                        EventCodec.touches(type: layout.0, version: layout.1, payload: $0, anyOf: [Array(id.name.utf8)])
                    }
                    #expect(named == e.body.accounts.contains(id))
                }
            }
        }
    }

    @Test func accountOpenedV1IsUpcastWithZeroOverdraft() throws {
        let payload = LegacyEncoding.accountOpenedV1(account: "old", currency: "GBP", scale: 2, metadata: EventMetadata(memo: "2019"))
        let event = try EventCodec.decode(type: 1, version: 1, payload: payload)
        #expect(event == Event(.accountOpened(account: AccountID(trusted: "old"), currency: Currency(trusted: "GBP"), scale: 2, overdraft: 0),
                               metadata: EventMetadata(memo: "2019")))
    }

    @Test func unknownTypesAndNewerVersionsAreRefused() {
        #expect(throws: DomainError.self) { try EventCodec.decode(type: 99, version: 1, payload: []) }
        #expect(throws: DomainError.self) { try EventCodec.decode(type: 3, version: 2, payload: []) }
        #expect(throws: DomainError.self) { try EventCodec.decode(type: 3, version: 0, payload: []) }
    }
}
