import Foundation
import LedgerDomain
@testable import LedgerEngine
import LedgerStorage
import LedgerTestSupport
import Testing

@Suite struct VerifyDerivedTests {
    func store() throws -> (TemporaryDirectory, Ledger) {
        let dir = TemporaryDirectory()
        let ledger = Ledger(layout: StoreLayout(root: dir.path), lockTimeoutMillis: 1000)
        _ = try ledger.setConfig("snapshot_every", to: "4")
        let a = try AccountID(validating: "a")
        _ = try ledger.append(AppendRequest(command: .open(account: a, currency: Currency(trusted: "USD"), scale: 2, overdraft: nil)))
        for i in 1...9 { _ = try ledger.append(AppendRequest(command: .deposit(account: a, amount: try DecimalText.parse("\(i)")))) }
        return (dir, ledger)
    }

    @Test func soundStoreVerifies() throws {
        let (dir, ledger) = try store()
        let report = try ledger.verify(expectHead: nil)
        #expect(report.problems.isEmpty, "\(report.problems)")
        withExtendedLifetime(dir) {}
    }

    @Test func forgedSnapshotWithValidChecksumsIsCaught() throws {
        let (dir, ledger) = try store()
        let snapshots = dir.path + "/snapshots"
        let file = try SnapshotFile.read(directory: snapshots, position: 8)
        var accounts = try Snapshots.decodeAll(file.payload)
        accounts[0].balance += 100_00
        try SnapshotFile(position: 8, timestampMicros: file.timestampMicros, chain: file.chain, payload: Snapshots.encode(accounts)).write(to: snapshots)
        let report = try ledger.verify(expectHead: nil)
        #expect(report.problems.count == 1)
        #expect(report.problems.first?.contains("snapshots/00000000000000000008.snap") == true)
        // A damaged one is reported too.
        FileDamage.flipBit(snapshots + "/" + SnapshotFile.name(position: 4), offset: 100)
        #expect(try ledger.verify(expectHead: nil).problems.count == 2)
    }

    @Test func viewThatDisagreesWithTheLogIsCaught() throws {
        let (dir, ledger) = try store()
        let path = dir.path + "/views/accounts.tbl"
        let table = try #require(try SlotTable.open(path: path, keyBytesMax: StateCodec.keyBytesMax, valueBytes: StateCodec.accountBytes,
                                                    contentVersion: Views.accountsContentVersion, writable: true))
        let slot = try #require(try table.find(Array("a".utf8)))
        var account = try StateCodec.decode(id: AccountID(trusted: "a"), slot.value)
        account.balance -= 1
        try table.overwrite(slot.index, key: slot.key, appliedPosition: slot.appliedPosition,
                            value: StateCodec.encode(account, number: StateCodec.number(slot.value)))
        let report = try ledger.verify(expectHead: nil)
        #expect(report.problems.contains { $0.contains("views/accounts.tbl") })
        _ = try ledger.replay(view: nil, snapshots: false)
        #expect(try ledger.verify(expectHead: nil).problems.isEmpty)
    }
}
