// Helper the multi-process tests spawn. Talks to the storage layer directly:
//   ledger-test-tool append DIR COUNT BATCH TAG [SEGMENT_BYTES]  append COUNT records, BATCH per commit
//   ledger-test-tool hold-lock DIR MILLIS                        hold the writer lock, print "locked"
// Each appended payload is "TAG:i"; one line per batch: "FIRST-LAST".

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
    case "hold-lock":
        guard args.count == 3, let millis = UInt32(args[2]) else { fail("bad hold-lock arguments") }
        try FileSystem.makeDirectory(args[1])
        let lock = try StoreLock.acquire(args[1] + "/LOCK", timeoutMillis: 1000)
        say("locked")
        usleep(millis * 1000)
        lock.release()
    default:
        fail("unknown verb \(verb)")
    }
} catch {
    fail("\(error)")
}
