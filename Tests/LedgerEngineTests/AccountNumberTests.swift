import Foundation
import LedgerDomain
@testable import LedgerEngine
import LedgerStorage
import LedgerTestSupport
import Testing

/// Events name accounts by number and name; the writers number them in the order they were
/// opened, the fold uses the numbers, and stores from before numbers keep working.
@Suite struct AccountNumberTests {
    let usd = Currency(trusted: "USD")

    func open(_ ledger: Ledger, _ names: [String]) throws {
        for name in names {
            _ = try ledger.append(AppendRequest(command: .open(account: try AccountID(validating: name), currency: usd, scale: 2, overdraft: nil)))
        }
    }

    /// Each stored event's accounts as (name, number) pairs, in log order (an open carries no number: -1).
    func storedSides(_ dir: TemporaryDirectory) throws -> [[String: Int32]] {
        let log = try Log.open(directory: dir.path + "/log")
        var out: [[String: Int32]] = []
        try log.forEach(from: 1) { record in
            let e = try EventCodec.scan(type: record.type, version: record.schemaVersion, payload: record.payload)
            var sides: [String: Int32] = [:]
            if !e.account.isEmpty { sides[String(decoding: e.account, as: UTF8.self)] = e.accountNumber }
            if let other = e.other { sides[String(decoding: other, as: UTF8.self)] = e.otherNumber }
            out.append(sides)
            return true
        }
        return out
    }

    @Test func appendsAndImportsNumberAccountsInOpeningOrder() throws {
        let dir = TemporaryDirectory()
        let ledger = Ledger(layout: StoreLayout(root: dir.path), lockTimeoutMillis: 1000)
        try open(ledger, ["zed", "amy"])
        _ = try ledger.append(AppendRequest(command: .deposit(account: AccountID(trusted: "amy"), amount: try DecimalText.parse("5"))))
        // An import opens two more (numbers 2 and 3) and moves money between old and new
        // accounts, on its fast path (deposits, transfers) and through Decide (a reversal, a close).
        try ledger.importLines("""
        {"op":"open","account":"bob","currency":"USD"}
        {"op":"deposit","account":"bob","amount":"10"}
        {"op":"open","account":"cat","currency":"USD"}
        {"op":"transfer","from":"bob","to":"zed","amount":"1"}
        {"op":"transfer","from":"amy","to":"cat","amount":"2"}
        {"op":"reverse","position":8}
        {"op":"close","account":"cat"}

        """)
        _ = try ledger.append(AppendRequest(command: .transfer(from: AccountID(trusted: "amy"), to: AccountID(trusted: "bob"), amount: try DecimalText.parse("1"))))
        try open(ledger, ["dan"])
        _ = try ledger.append(AppendRequest(command: .withdraw(account: AccountID(trusted: "bob"), amount: try DecimalText.parse("1"))))
        _ = try ledger.append(AppendRequest(command: .deposit(account: AccountID(trusted: "dan"), amount: try DecimalText.parse("1"))))

        let number: [String: Int32] = ["zed": 0, "amy": 1, "bob": 2, "cat": 3, "dan": 4]
        let events = try storedSides(dir)
        #expect(events.count == 14)
        let opens: Set = [1, 2, 4, 6, 12]
        for (k, sides) in events.enumerated() {
            #expect(!sides.isEmpty)
            for (name, n) in sides {
                #expect(n == (opens.contains(k + 1) ? -1 : number[name]), "position \(k + 1), \(name)")
            }
        }
        #expect(try ledger.verify(expectHead: nil).problems.isEmpty)
        withExtendedLifetime(dir) {}
    }

    @Test func aNumberThatIsNotTheNamedAccountsIsReportedByVerify() throws {
        let dir = TemporaryDirectory()
        let ledger = Ledger(layout: StoreLayout(root: dir.path), lockTimeoutMillis: 1000)
        try open(ledger, ["a", "b"])
        // A forged deposit to "b" that gives it "a"'s number (0), with a sound CRC and chain.
        do {
            let lock = try StoreLock.acquire(dir.path + "/LOCK", timeoutMillis: 1000)
            defer { lock.release() }
            let writer = try LogWriter(directory: dir.path + "/log", segmentBytes: Limits.segmentBytesDefault, holding: lock)
            let e = EventCodec.encode(Event(.moneyDeposited(account: AccountID(trusted: "b"), amount: 100)), numbers: { _ in 0 })
            var batch = writer.makeBatch()
            try batch.append(timestampMicros: writer.head.timestampMicros + 1, type: e.type, schemaVersion: e.version, payload: e.payload)
            try writer.append(batch)
        }
        let problems = try ledger.verify(expectHead: nil).problems
        #expect(problems.contains { $0.contains("position 3") && $0.contains("'b' number 0") }, "\(problems)")
        // The fold uses a number only when the name beside it agrees: the deposit is b's.
        _ = try ledger.replay(view: nil, snapshots: false)
        let answer = try ledger.balances([])
        #expect(answer.accounts.map { "\($0.id)=\($0.balance)" } == ["a=0", "b=100"])
    }

    /// Rewrites the accounts view's header with `edit` applied (and its CRC recomputed).
    func editAccountsHeader(_ dir: TemporaryDirectory, _ edit: (inout [UInt8]) -> Void) throws {
        let path = dir.path + "/views/accounts.tbl"
        var header = try #require(FileManager.default.contents(atPath: path)).prefix(SlotTable.headerBytes).map { $0 }
        edit(&header)
        let crc = CRC32C.checksum(header[0..<60].map { $0 })
        header.replaceSubrange(60..<64, with: withUnsafeBytes(of: crc.littleEndian) { Array($0) })
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.write(Data(header))
        try handle.close()
    }

    @Test func aStaleSlotCountLeftByACrashDoesNotRepeatANumber() throws {
        let dir = TemporaryDirectory()
        let ledger = Ledger(layout: StoreLayout(root: dir.path), lockTimeoutMillis: 1000)
        try open(ledger, ["a", "b", "c"])
        // Killed between writing c's slot and the header that counts it: the header says 2 slots.
        try editAccountsHeader(dir) { header in
            #expect(header[24] == 3)
            header[24] = 2
        }
        try open(Ledger(layout: StoreLayout(root: dir.path), lockTimeoutMillis: 1000), ["d"])
        _ = try ledger.append(AppendRequest(command: .deposit(account: AccountID(trusted: "d"), amount: try DecimalText.parse("1"))))
        #expect(try storedSides(dir).last == ["d": 3])
        #expect(try ledger.verify(expectHead: nil).problems.isEmpty)
    }

    @Test func anAccountsViewFromBeforeNumbersIsRebuiltBeforeAnAppend() throws {
        let dir = TemporaryDirectory()
        let ledger = Ledger(layout: StoreLayout(root: dir.path), lockTimeoutMillis: 1000)
        try open(ledger, ["a", "b"])
        // The view's header as an older ledger wrote it: content version 0 (its values had no numbers).
        try editAccountsHeader(dir) { header in
            #expect(header[48..<52] == [1, 0, 0, 0])
            header.replaceSubrange(48..<52, with: [0, 0, 0, 0])
        }

        let writer = Ledger(layout: StoreLayout(root: dir.path), lockTimeoutMillis: 1000)
        _ = try writer.append(AppendRequest(command: .deposit(account: AccountID(trusted: "b"), amount: try DecimalText.parse("3"))))
        #expect(writer.notes.contains { $0.contains("content is version 0") && $0.contains("rebuilt") }, "\(writer.notes)")
        #expect(try storedSides(dir).last == ["b": 1])
        #expect(try ledger.verify(expectHead: nil).problems.isEmpty)
    }
}
