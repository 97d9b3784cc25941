// Helper the multi-process tests spawn. Talks to the storage layer directly:
//   ledger-test-tool append DIR COUNT BATCH TAG [SEGMENT_BYTES]  append COUNT records, BATCH per commit
//   ledger-test-tool hold-lock DIR MILLIS                        hold the writer lock, print "locked"
//   ledger-test-tool make-fixture-v1 DIR                         write the format-v1 fixture store (run once;
//                                                                the result is committed under Tests/ and must never change)
//   ledger-test-tool make-fixture-v2 DIR                         the same story in the v2 layouts (account numbers), plus a reversal
//   ledger-test-tool processors                                  print how many processors a job in parts would use
// Each appended payload is "TAG:i"; one line per batch: "FIRST-LAST".

import LedgerDomain
import LedgerStorage

#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String) -> Never {
    let line = Array("ledger-test-tool: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(2)
}

/// Unbuffered, so the parent sees each line as soon as it is true.
func say(_ text: String) {
    let line = Array((text + "\n").utf8)
    _ = line.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
}

let args = Array(CommandLine.arguments.dropFirst())
guard let verb = args.first else { fail("usage: append DIR COUNT BATCH TAG [SEGMENT_BYTES] | hold-lock DIR MILLIS") }
do {
    switch verb {
    case "append":
        guard args.count >= 5, let count = Int(args[2]), let batchSize = Int(args[3]) else { fail("bad append arguments") }
        let dir = args[1]
        let tag = args[4]
        let segmentBytes = args.count > 5 ? Int(args[5]) ?? Limits.segmentBytesDefault : Limits.segmentBytesDefault
        try FileSystem.makeDirectory(dir)
        var done = 0
        while done < count {
            let lock = try StoreLock.acquire(dir + "/LOCK", timeoutMillis: 30_000)
            let writer = try LogWriter(directory: dir + "/log", segmentBytes: segmentBytes, holding: lock)
            var batch = writer.makeBatch()
            let n = min(batchSize, count - done)
            let base = max(writer.head.timestampMicros, 1_700_000_000_000_000)
            for i in 0..<n {
                try batch.append(timestampMicros: base + Int64(i), type: 1, schemaVersion: 1, payload: Array("\(tag):\(done + i)".utf8))
            }
            let range = try writer.append(batch)
            lock.release()
            say("\(range.lowerBound)-\(range.upperBound)")
            done += n
        }
    case "processors":
        say(String(Processors.online))
    case "hold-lock":
        guard args.count == 3, let millis = UInt32(args[2]) else { fail("bad hold-lock arguments") }
        try FileSystem.makeDirectory(args[1])
        let lock = try StoreLock.acquire(args[1] + "/LOCK", timeoutMillis: 1000)
        say("locked")
        usleep(millis * 1000)
        lock.release()
    case "make-fixture-v1":
        guard args.count == 2 else { fail("usage: make-fixture-v1 DIR") }
        try makeFixture(args[1], version: 1)
    case "make-fixture-v2":
        guard args.count == 2 else { fail("usage: make-fixture-v2 DIR") }
        try makeFixture(args[1], version: 2)
    default:
        fail("unknown verb \(verb)")
    }
} catch {
    fail("\(error)")
}

/// Version 1: segment format 1 with both AccountOpened layouts (v1 through the legacy encoder),
/// every other event type in its v1 layout (names alone), metadata, two batches of several
/// records, and fixed timestamps. Version 2: the same events in today's layouts (accounts
/// written with their numbers; "legacy" opened with the v2 layout), then a reversal.
func makeFixture(_ dir: String, version: Int) throws {
    try FileSystem.makeDirectory(dir)
    let lock = try StoreLock.acquire(dir + "/LOCK", timeoutMillis: 1000)
    let writer = try LogWriter(directory: dir + "/log", segmentBytes: 512, holding: lock)
    let t0: Int64 = 1_577_836_800_000_000 // 2020-01-01T00:00:00Z
    func id(_ s: String) -> AccountID { AccountID(trusted: s) }
    let usd = Currency(trusted: "USD")
    var events: [[(Int64, Event?)]] = [
        [(0, nil)], // legacy v1 open of "legacy"
        [(60, Event(.accountOpened(account: id("alice"), currency: usd, scale: 2, overdraft: 0))),
         (61, Event(.accountOpened(account: id("bob"), currency: usd, scale: 2, overdraft: 5000)))],
        [(120, Event(.moneyDeposited(account: id("alice"), amount: 10_000), metadata: EventMetadata(id: "dep-1", memo: "salary")))],
        [(180, Event(.moneyDeposited(account: id("legacy"), amount: 250)))],
        [(240, Event(.moneyTransferred(from: id("alice"), to: id("bob"), amount: 2_575), metadata: EventMetadata(memo: "rent", correlationID: "c-1"))),
         (241, Event(.moneyWithdrawn(account: id("bob"), amount: 7_000), metadata: EventMetadata(id: "atm-1", causationID: "c-1")))],
        [(300, Event(.moneyWithdrawn(account: id("legacy"), amount: 250)))],
        [(360, Event(.accountClosed(account: id("legacy"))))],
    ]
    let reversal: [[(Int64, Event?)]] = [[(420, Event(.moneyReversed(reverses: 7, from: nil, to: id("bob"), amount: 7_000), metadata: EventMetadata(memo: "atm refund")))]]
    if version > 1 { events += reversal }
    var numbers: [AccountID: UInt32] = [:]
    for batchEvents in events {
        var batch = writer.makeBatch()
        for (seconds, event) in batchEvents {
            let t = t0 + seconds * 1_000_000
            let e: (type: UInt16, version: UInt16, payload: [UInt8])
            if let event, case .accountOpened(let a, _, _, _) = event.body {
                e = EventCodec.encode(event, numbers: { _ in fail("an open names no other account") })
                numbers[a] = UInt32(numbers.count)
            } else if let event {
                e = version == 1 ? LegacyEncoding.namesOnlyV1(event) : EventCodec.encode(event, numbers: { numbers[$0]! })
            } else if version == 1 {
                e = (1, 1, LegacyEncoding.accountOpenedV1(account: "legacy", currency: "USD", scale: 2))
                numbers[id("legacy")] = UInt32(numbers.count)
            } else {
                e = EventCodec.encode(Event(.accountOpened(account: id("legacy"), currency: usd, scale: 2, overdraft: 0)), numbers: { _ in 0 })
                numbers[id("legacy")] = UInt32(numbers.count)
            }
            try batch.append(timestampMicros: t, type: e.type, schemaVersion: e.version, payload: e.payload)
        }
        try writer.append(batch)
    }
    lock.release()
    try FileSystem.remove(dir + "/LOCK")
}
