// `make bench`: measures the storage engine in a release build. Prints medians
// with min–max over several runs; figures go into docs/BENCHMARKS.md.
//   ledger-bench [--records N] [--dir DIR]

import LedgerStorage

#if canImport(Glibc)
import Glibc
#endif

func nowSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func peakRSSMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

struct Stats {
    let samples: [Double]
    var median: Double { let s = samples.sorted(); return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2 }
    var min: Double { samples.min() ?? 0 }
    var max: Double { samples.max() ?? 0 }
}

func measure(runs: Int, _ body: () throws -> Void) rethrows -> Stats {
    var samples: [Double] = []
    for _ in 0..<runs {
        let t0 = nowSeconds()
        try body()
        samples.append(nowSeconds() - t0)
    }
    return Stats(samples: samples)
}

func fmt(_ v: Double, _ digits: Int = 2) -> String {
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let r = (v * p).rounded() / p
    return String(r)
}

func rate(_ count: Int, _ s: Stats, unit: String) -> String {
    "\(fmt(Double(count) / s.median / 1e6)) M \(unit)/s (median of \(s.samples.count); \(fmt(Double(count) / s.max / 1e6))–\(fmt(Double(count) / s.min / 1e6)))"
}

var records = 10_000_000
var root = "/tmp/ledger-bench"
var args = Array(CommandLine.arguments.dropFirst())
while !args.isEmpty {
    let a = args.removeFirst()
    if a == "--records", let v = args.first.flatMap(Int.init) { records = v; args.removeFirst() } else if a == "--dir", let v = args.first { root = v; args.removeFirst() }
}

func run(_ command: String) { _ = system(command) }

do {
    var uname = utsname()
    Glibc.uname(&uname)
    let machine = withUnsafeBytes(of: uname.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    print("ledger-bench: \(records) records, store under \(root), \(sysconf(Int32(_SC_NPROCESSORS_ONLN))) cores, \(machine)")

    // CRC32C and SHA-256 throughput on 64 MiB.
    let blob = (0..<(64 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
    var sink: UInt32 = 0
    let hw = blob.withUnsafeBytes { raw in measure(runs: 5) { sink ^= CRC32C.checksum(raw) } }
    let sw = blob.withUnsafeBytes { raw in measure(runs: 3) { sink ^= CRC32C.softwareChecksum(raw) } }
    print("crc32c (hardware path):      \(fmt(Double(blob.count) / hw.median / 1e9)) GB/s")
    print("crc32c (slicing-by-8):       \(fmt(Double(blob.count) / sw.median / 1e9)) GB/s")
    let shaBlob = Array(blob.prefix(16 << 20))
    let sha = measure(runs: 3) { sink ^= UInt32(SHA256.hash(shaBlob)[0]) }
    print("sha256:                      \(fmt(Double(shaBlob.count) / sha.median / 1e6, 0)) MB/s")

    // Batched durable append: batches of 10k records, 16-byte payloads (44-byte frames).
    run("rm -rf '\(root)'")
    try FileSystem.makeDirectory(root)
    let lock = try StoreLock.acquire(root + "/LOCK", timeoutMillis: 1000)
    let writer = try LogWriter(directory: root + "/log", segmentBytes: Limits.segmentBytesDefault, holding: lock)
    var payload = [UInt8](repeating: 0x61, count: 16)
    let batchSize = 10_000
    let t0 = nowSeconds()
    var written = 0
    var t: Int64 = 1_700_000_000_000_000
    while written < records {
        var batch = writer.makeBatch()
        for _ in 0..<min(batchSize, records - written) {
            payload[0] = UInt8(truncatingIfNeeded: written)
            try batch.append(timestampMicros: t, type: 1, schemaVersion: 1, payload: payload)
            t += 1
            written += 1
        }
        try writer.append(batch)
    }
    let appendSeconds = nowSeconds() - t0
    print("batched durable append:      \(fmt(Double(records) / appendSeconds / 1e6)) M records/s (batches of \(batchSize), one run, \(fmt(appendSeconds)) s)")

    // Single-record durable append latency.
    var latencies: [Double] = []
    for _ in 0..<200 {
        var batch = writer.makeBatch()
        try batch.append(timestampMicros: t, type: 1, schemaVersion: 1, payload: payload)
        t += 1
        let s = nowSeconds()
        try writer.append(batch)
        latencies.append(nowSeconds() - s)
    }
    let single = Stats(samples: latencies)
    print("single-record durable append: \(fmt(single.median * 1e3, 3)) ms median (200 runs; \(fmt(single.min * 1e3, 3))–\(fmt(single.max * 1e3, 3)) ms)")
    lock.release()

    // Sequential read + CRC verify + decode (page cache).
    let log = try Log.open(directory: root + "/log")
    let total = Int(log.head.position)
    var checksum: UInt64 = 0
    let read = try measure(runs: 5) {
        try log.forEach(from: 1) { record in
            checksum &+= record.position &+ UInt64(record.payload[0]) &+ UInt64(record.type)
            return true
        }
    }
    print("sequential read+crc+decode:  \(rate(total, read, unit: "records"))")
    // Verify: everything plus the hash chain and every index entry.
    let verify = try measure(runs: 1) { _ = try LogVerifier.verify(directory: root + "/log") }
    print("verify (crc+chain+index):    \(rate(total, verify, unit: "records"))")
    // Lookups by time through the index.
    var found: UInt64 = 0
    let lookups = try measure(runs: 3) {
        for i in 0..<10_000 { found &+= try log.lastPosition(atOrBefore: 1_700_000_000_000_000 + Int64(i) * 997) }
    }
    print("time lookup via index:       \(fmt(lookups.median / 10_000 * 1e6)) µs each")
    print("peak RSS:                    \(fmt(peakRSSMiB(), 1)) MiB   (sink \(sink ^ UInt32(truncatingIfNeeded: checksum ^ found)))")
    run("rm -rf '\(root)'")
} catch {
    print("ledger-bench: \(error)")
    exit(1)
}
