// `make bench`: measures the storage engine in a release build. Prints medians
// with min–max over several runs; figures go into docs/BENCHMARKS.md.
//   ledger-bench [--records N] [--dir DIR]

import LedgerDomain
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
var skipStorage = false
var root = "/tmp/ledger-bench"
var args = Array(CommandLine.arguments.dropFirst())
while !args.isEmpty {
    let a = args.removeFirst()
    if a == "--write-history", let dir = args.first {
        // For profiling: just write a history into DIR (1M events over 10k accounts unless given).
        let events = args.dropFirst().first.flatMap(Int.init) ?? 1_000_000
        let accounts = args.dropFirst(2).first.flatMap(Int.init) ?? 10_000
        do { try History.write(root: dir, accounts: accounts, operations: events) } catch { print(error); exit(1) }
        exit(0)
    }
    if a == "--fold", let dir = args.first {
        // For profiling: fold the log in DIR five times (what the bench's "fold of the log" times).
        do { for _ in 0..<5 { _ = try foldLog(dir) } } catch { print(error); exit(1) }
        exit(0)
    }
    if a == "--slot-table", let dir = args.first {
        // For profiling: build the bench's slot table (1M keys unless given) five times in DIR.
        let keys = args.dropFirst().first.flatMap(Int.init) ?? 1_000_000
        do { for _ in 0..<5 { print(fmt(try buildSlotTable(dir, keys: keys) * 1e3), "ms") } } catch { print(error); exit(1) }
        exit(0)
    }
    if a == "--import" {
        // Only the import against sqlite3 (under --dir, or /tmp/ledger-bench).
        do { try importSpeed(root: args.first == "--dir" && args.count > 1 ? args[1] : root) } catch { print(error); exit(1) }
        exit(0)
    }
    if a == "--commands-only" { skipStorage = true } else if a == "--records", let v = args.first.flatMap(Int.init) { records = v; args.removeFirst() } else if a == "--dir", let v = args.first { root = v; args.removeFirst() }
}

/// Runs a set-up command through the shell; a failing one ends the bench (a comparison built on
/// a failed set-up would be timed and reported as if it had worked).
func run(_ command: String) {
    let status = system(command)
    guard status == 0 else {
        print("bench: exit status \(status) from: \(command)")
        exit(1)
    }
}

/// What a shell command prints on its standard output (a set-up's check), without white space.
func output(_ command: String) -> String {
    guard let pipe = popen(command, "r") else { return "" }
    var text = ""
    var buffer = [CChar](repeating: 0, count: 4096)
    while fgets(&buffer, Int32(buffer.count), pipe) != nil { text += String(cString: buffer) }
    pclose(pipe)
    return String(text.filter { !$0.isWhitespace })
}

/// The fold alone: every record of the store at `dir` read, CRC-checked, decoded and folded into
/// balances (CompactState) on one thread (prefetched, money events read in place), nothing
/// written; a replay of the balances splits the same work over two threads. Returns the
/// position folded through.
func foldLog(_ dir: String) throws -> UInt64 {
    let log = try Log.open(directory: dir + "/log")
    var state = CompactState()
    try log.forEachBatch(from: 1) { batch in
        try batch.forEach(prefetching: { state.prefetch(type: $0.type, version: $0.schemaVersion, payload: $0.payload) }) { record in
            _ = try state.fold(type: record.type, version: record.schemaVersion, payload: record.payload, at: record.position)
        }
        return true
    }
    return state.position
}

/// Seconds to write (fsynced, not renamed) a slot table shaped like the ids view: `keys` 8-byte
/// keys in no order, each with its position, through SlotTableWriter told their number, as an
/// import's ids view is (memory for all of them up to 32 MiB; beyond, it spills).
func buildSlotTable(_ dir: String, keys: Int) throws -> Double {
    try FileSystem.makeDirectory(dir)
    let writer = SlotTableWriter(sizedFor: keys, path: dir + "/bench.tbl", keyBytesMax: 8, valueBytes: 0)
    let start = nowSeconds()
    var h: UInt64 = 0x9E37_79B9_7F4A_7C15
    for position in 1...UInt64(keys) {
        h = (h ^ (h >> 29)) &* 0xBF58_476D_1CE4_E5B9 &+ position
        try withUnsafeBytes(of: h.littleEndian) { try writer.add(key: $0, appliedPosition: position, value: UnsafeRawBufferPointer(start: nil, count: 0)) }
    }
    _ = try writer.write(checkpoint: UInt64(keys))
    return nowSeconds() - start
}

do {
    var uname = utsname()
    Glibc.uname(&uname)
    let machine = withUnsafeBytes(of: uname.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    print("ledger-bench: \(records) records, store under \(root), \(sysconf(Int32(_SC_NPROCESSORS_ONLN))) cores, \(machine)")

    // The commands run first: a child's peak RSS (wait4) starts from this process's peak
    // (Linux records the spawning address space's high-water mark at exec), so they are
    // measured while this process is still small.
    try commandLatency(root: root)
    try timeTravel(root: root)
    try historyLength(root: root)
    try importSpeed(root: root)
    if skipStorage { exit(0) }
    print("")
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
    let slotTable = try measure(runs: 5) { _ = try buildSlotTable(root + "/views", keys: 1_000_000) }
    print("slot table build (1M 8-byte keys, as the ids view): \(fmt(slotTable.median * 1e3)) ms median of 5 (\(fmt(slotTable.min * 1e3))–\(fmt(slotTable.max * 1e3)))")
    print("peak RSS:                    \(fmt(peakRSSMiB(), 1)) MiB   (sink \(sink ^ UInt32(truncatingIfNeeded: checksum ^ found)))")
    run("rm -rf '\(root)'")
} catch {
    print("ledger-bench: \(error)")
    exit(1)
}

// MARK: Single-command latency, fresh processes, vs sqlite3

/// Peak RSS (MiB) of the last process `timeProcess` ran.
nonisolated(unsafe) var lastChildPeakRSSMiB = 0.0

/// Runs argv to completion with stdout/stderr to /dev/null; returns seconds and the exit status.
func timeProcess(_ argv: [String]) -> (Double, Int32) {
    var pid: pid_t = 0
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let cargs = argv.map { strdup($0) } + [nil]
    defer { for p in cargs { free(p) } }
    let t0 = nowSeconds()
    let rc = posix_spawn(&pid, argv[0], &actions, nil, cargs, environ)
    posix_spawn_file_actions_destroy(&actions)
    guard rc == 0 else { return (0, -1) }
    var status: Int32 = 0
    var usage = rusage()
    wait4(pid, &status, 0, &usage)
    lastChildPeakRSSMiB = Double(usage.ru_maxrss) / 1024
    return (nowSeconds() - t0, (status >> 8) & 0xFF)
}

/// `argv` run `runs` times: its times, and the largest peak RSS of the runs.
func timeRuns(_ argv: [String], runs: Int) -> (Stats, Double) {
    var samples: [Double] = []
    var rss = 0.0
    for _ in 0..<runs {
        let (s, _) = timeProcess(argv)
        samples.append(s)
        rss = max(rss, lastChildPeakRSSMiB)
    }
    return (Stats(samples: samples), rss)
}

func latency(_ label: String, runs: Int, _ argv: (Int) -> [String]) -> Stats {
    var samples: [Double] = []
    for i in 0..<runs {
        let (s, status) = timeProcess(argv(i))
        if status != 0 { print("  \(label): run \(i) exited \(status)") }
        samples.append(s)
    }
    let st = Stats(samples: samples)
    print("\(label.padding(44)) \(fmt(st.median * 1e3, 3)) ms median of \(runs) (\(fmt(st.min * 1e3, 3))–\(fmt(st.max * 1e3, 3)))")
    return st
}

/// Several commands timed in turn, one run of each per round (the first to go changes every
/// round): a noisy stretch of the machine then slows them alike, and their medians compare.
/// Returns each one's times and the largest peak RSS of its runs.
func latencies(_ commands: [(label: String, argv: (Int) -> [String])], runs: Int) -> [(stats: Stats, peakRSS: Double)] {
    var samples = [[Double]](repeating: [], count: commands.count)
    var rss = [Double](repeating: 0, count: commands.count)
    for i in 0..<runs {
        for k in 0..<commands.count {
            let c = (i + k) % commands.count
            let (s, status) = timeProcess(commands[c].argv(i))
            if status != 0 { print("  \(commands[c].label): run \(i) exited \(status)") }
            samples[c].append(s)
            rss[c] = max(rss[c], lastChildPeakRSSMiB)
        }
    }
    return commands.indices.map { c in
        let st = Stats(samples: samples[c])
        print("\(commands[c].label.padding(44)) \(fmt(st.median * 1e3, 3)) ms median of \(runs) (\(fmt(st.min * 1e3, 3))–\(fmt(st.max * 1e3, 3)))")
        return (st, rss[c])
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}

func binDirectory() -> String {
    let me = CommandLine.arguments[0]
    if let slash = me.lastIndex(of: "/") { return String(me[..<slash]) }
    return "."
}

func commandLatency(root: String) throws {
    let ledger = binDirectory() + "/ledger"
    let sqlite = "/usr/bin/sqlite3"
    let runs = 30
    print("")
    print("single-command latency (fresh process each, durable), \(runs) runs:")
    _ = latency("process start: true", runs: runs) { _ in ["/bin/true"] }
    _ = latency("process start: ledger --help", runs: runs) { _ in [ledger, "--help"] }
    // Both stores and sqlite3's table are built first; then every command is timed in turn
    // (one run of each per round), so that the ratios compare runs on the same stretch.
    let stores = [("1k events / 100 accounts", 100, 1_000), ("1M events / 10k accounts", 10_000, 1_000_000)]
    var commands: [(label: String, argv: (Int) -> [String])] = []
    for (k, (label, accounts, operations)) in stores.enumerated() {
        let dir = root + "-cmd\(k)"
        run("rm -rf '\(dir)'")
        let t0 = nowSeconds()
        try History.write(root: dir, accounts: accounts, operations: operations)
        let written = nowSeconds() - t0
        let (rebuild, _) = timeProcess([ledger, "--dir", dir, "deposit", History.name(0), "1.00"])
        print("\(label): history written in \(fmt(written)) s; first command (builds the views) \(fmt(rebuild * 1e3, 1)) ms")
        commands.append(("  ledger deposit (\(label))", { i in [ledger, "--dir", dir, "deposit", History.name((i * 7919) % accounts), "1.00"] }))
        commands.append(("  ledger balance ACCOUNT (\(label))", { i in [ledger, "--dir", dir, "balance", History.name((i * 7919) % accounts)] }))
    }
    let hasSQLite = access(sqlite, X_OK) == 0
    let db = root + "-sqlite.db"
    if hasSQLite {
        run("rm -f '\(db)'")
        run("\(sqlite) '\(db)' \"CREATE TABLE events(id INTEGER PRIMARY KEY, stream_id TEXT NOT NULL, version INTEGER NOT NULL, type TEXT NOT NULL, amount INTEGER, ts INTEGER NOT NULL, UNIQUE(stream_id, version)); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 1000000) INSERT INTO events(stream_id, version, type, amount, ts) SELECT printf('acc_%06d', x % 10000), x / 10000, 'MoneyDeposited', x, x FROM c;\"")
        commands.append(("  sqlite3 FILE \"INSERT …\" (1M rows)", { i in
            [sqlite, db, "INSERT INTO events(stream_id, version, type, amount, ts) VALUES('acc_000001', \(1_000 + i), 'MoneyDeposited', 100, \(i))"]
        }))
    } else {
        print("sqlite3 not found at \(sqlite): no comparison")
    }
    let timed = latencies(commands, runs: runs)
    for k in stores.indices { run("rm -rf '\(root)-cmd\(k)'") }
    run("rm -f '\(db)'")
    let small = timed[0].stats.median, big = timed[2].stats.median
    if hasSQLite { print("ratio ledger deposit / sqlite3 insert (1M):  \(fmt(big / timed[4].stats.median, 2))   (goal ≤ 0.75)") }
    print("ratio 1M-event store / 1k-event store:       \(fmt(big / small, 2))   (goal ≈ 1)")
}

// MARK: Time travel: replay, snapshots, as-of queries vs sqlite3

func timeTravel(root: String) throws {
    let ledger = binDirectory() + "/ledger"
    let sqlite = "/usr/bin/sqlite3"
    let runs = 30
    let accounts = 10_000, operations = 1_000_000
    let dir = root + "-asof"
    run("rm -rf '\(dir)'")
    print("")
    print("time travel on \(operations) events / \(accounts) accounts:")
    let last = try History.write(root: dir, accounts: accounts, operations: operations)
    let first = History.startMicros
    for (label, argv) in [("ledger replay (the three views)", ["replay"]), ("ledger replay --snapshots", ["replay", "--snapshots"]),
                          ("ledger replay --view accounts (balances alone)", ["replay", "--view", "accounts"])] {
        let (st, rss) = timeRuns([ledger, "--dir", dir] + argv, runs: 3)
        let snapshots = argv.contains("--snapshots") ? " (\(try FileSystem.list(dir + "/snapshots").filter { $0.hasSuffix(".snap") }.count) snapshots)" : ""
        print("\(label)\(snapshots): \(fmt(st.median, 3)) s median of 3 (\(fmt(st.min, 3))–\(fmt(st.max, 3))) = \(fmt(Double(operations) / st.median / 1e6, 2)) M events/s, peak RSS \(fmt(rss, 1)) MiB   (goal ≥ 30 M/s)")
    }
    // The fold alone, in this process: every record read, CRC-checked, decoded and folded into
    // balances (CompactState), nothing written. What `replay` pays on top is the views' writing.
    let fold = try measure(runs: 5) {
        let folded = try foldLog(dir)
        precondition(folded == UInt64(operations))
    }
    print("fold of the log in process (read, CRC, decode, fold; no views): \(rate(operations, fold, unit: "events"))")
    var snapshotSamples: [Double] = []
    for _ in 0..<5 {
        let (s, _) = timeProcess([ledger, "--dir", dir, "snapshot"])
        snapshotSamples.append(s)
    }
    print("ledger snapshot (10k accounts, fresh process):     \(fmt(Stats(samples: snapshotSamples).median * 1e3, 2)) ms median of 5, peak RSS \(fmt(lastChildPeakRSSMiB, 1)) MiB")
    // The audit: the log (CRCs, positions, hash chain, indexes), then the snapshots and views
    // against a fold of it.
    let (verified, verifyRSS) = timeRuns([ledger, "--dir", dir, "verify"], runs: 3)
    print("ledger verify (log, snapshots, views): \(fmt(verified.median, 2)) s median of 3 (\(fmt(verified.min, 2))–\(fmt(verified.max, 2))) = \(fmt(Double(operations) / verified.median / 1e6, 2)) M events/s, peak RSS \(fmt(verifyRSS, 1)) MiB")
    // Every event out again (to /dev/null): the feed scripts read, and the import format.
    for (label, argv) in [("ledger export (ndjson)", ["export"]), ("ledger export --format csv", ["export", "--format", "csv"]), ("ledger log", ["log"])] {
        let (st, rss) = timeRuns([ledger, "--dir", dir] + argv, runs: 3)
        print("\(label.padding(30)) \(fmt(st.median, 2)) s median of 3 (\(fmt(st.min, 2))–\(fmt(st.max, 2))) = \(fmt(Double(operations) / st.median / 1e6, 2)) M events/s, peak RSS \(fmt(rss, 1)) MiB")
    }
    var rng = SplitMix64(state: 7)
    let times = (0..<runs).map { _ in Int64.random(in: first...last, using: &rng) }
    func rfc(_ micros: Int64) -> String { Timestamp(micros: micros).rfc3339 }
    // sqlite3's postings as its users would keep them: one row per account movement, indexed
    // by (account, ts); built first, so that its one-account query is timed with ledger's.
    let hasSQLite = access(sqlite, X_OK) == 0
    let db = dir + ".db"
    if hasSQLite {
        run("rm -f '\(db)'")
        run("\(sqlite) '\(db)' \"CREATE TABLE postings(account TEXT NOT NULL, ts INTEGER NOT NULL, delta INTEGER NOT NULL); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < \(operations)) INSERT INTO postings SELECT printf('acc_%06d', (x * 7919) % \(accounts)), \(first) + x * 1000000, (x % 100) - 40 FROM c; CREATE INDEX postings_account_ts ON postings(account, ts);\"")
    }
    // Interleaved: process start and the queries share the machine's noisy stretches.
    var commands: [(label: String, argv: (Int) -> [String])] = [
        ("process start: ledger --help", { _ in [ledger, "--help"] }),
        ("ledger balance ACCOUNT --as-of RANDOM", { i in [ledger, "--dir", dir, "balance", History.name(i * 331 % accounts), "--as-of", rfc(times[i])] }),
        ("ledger balance --as-of RANDOM (all 10k)", { i in [ledger, "--dir", dir, "balance", "--as-of", rfc(times[i])] }),
        ("ledger --json balance --as-of RANDOM (all 10k)", { i in [ledger, "--dir", dir, "--json", "balance", "--as-of", rfc(times[i])] }),
    ]
    if hasSQLite {
        commands.append(("sqlite3: one account's sum as of RANDOM", { i in
            [sqlite, db, "SELECT sum(delta) FROM postings WHERE account = '\(History.name(i * 331 % accounts))' AND ts <= \(times[i])"]
        }))
    }
    let timed = latencies(commands, runs: runs)
    let start = timed[0].stats.median, one = timed[1].stats.median, all = timed[2].stats.median, allJSON = timed[3].stats.median
    let oneRSS = timed[1].peakRSS, allRSS = max(timed[2].peakRSS, timed[3].peakRSS)
    print("  peak RSS: one account \(fmt(oneRSS, 1)) MiB, all accounts \(fmt(allRSS, 1)) MiB; all-accounts work beyond process start \(fmt((all - start) * 1e3, 2)) ms as a table, \(fmt((allJSON - start) * 1e3, 2)) ms as JSON (goal ≤ 10)")
    guard hasSQLite else { return }
    let sqOne = timed[4].stats.median
    let sqAll = latency("sqlite3: every account's sum as of RANDOM", runs: 10) { i in
        [sqlite, db, "SELECT account, sum(delta) FROM postings WHERE ts <= \(times[i]) GROUP BY account"]
    }.median
    print("ratio one-account as-of ledger / sqlite3:   \(fmt(one / sqOne, 2))   (goal ≤ 1)")
    print("ratio all-accounts as-of ledger / sqlite3:  \(fmt(all / sqAll, 3))")
    run("rm -rf '\(dir)' '\(db)'")
}

// MARK: One-account as-of against history length

/// The same query on a 10k-event store and on a 10M-event store over 100k accounts: the history
/// view's jump pointers make it O(log n) record reads, and a reader opens only the log's last
/// segment, so the two should cost the same. Both stores are built first and flushed (`sync`,
/// so that writing back 2 GB does not slow the queries), then queried in turn.
func historyLength(root: String) throws {
    let ledger = binDirectory() + "/ledger"
    let runs = 30
    print("")
    print("one account as of a random time against history length (fresh process each, the two stores queried in turn):")
    let stores = [("10k events / 1k accounts", 10_000, 1_000), ("10M events / 100k accounts", 10_000_000, 100_000)]
    var lasts: [Int64] = []
    for (k, (label, events, accounts)) in stores.enumerated() {
        let dir = root + "-length\(k)"
        run("rm -rf '\(dir)'")
        let t0 = nowSeconds()
        lasts.append(try History.write(root: dir, accounts: accounts, operations: events))
        let written = nowSeconds() - t0
        let (replay, _) = timeProcess([ledger, "--dir", dir, "replay"])
        let replayRSS = lastChildPeakRSSMiB
        // The balances alone, as the long history's fold scales (median of 3).
        let (balances, balancesRSS) = timeRuns([ledger, "--dir", dir, "replay", "--view", "accounts"], runs: 3)
        print("\(label): history written in \(fmt(written, 1)) s; ledger replay \(fmt(replay, 2)) s = \(fmt(Double(events) / replay / 1e6, 2)) M events/s, peak RSS \(fmt(replayRSS, 1)) MiB; --view accounts \(fmt(balances.median, 3)) s = \(fmt(Double(events) / balances.median / 1e6, 2)) M events/s, peak RSS \(fmt(balancesRSS, 1)) MiB")
    }
    run("sync")
    var rng = SplitMix64(state: 9)
    var samples: [[Double]] = [[], []]
    for i in 0..<runs {
        for (k, (_, _, accounts)) in stores.enumerated() {
            let time = Int64.random(in: History.startMicros...lasts[k], using: &rng)
            let (s, status) = timeProcess([ledger, "--dir", root + "-length\(k)", "balance", History.name((i * 7919) % accounts),
                                           "--as-of", Timestamp(micros: time).rfc3339])
            if status != 0 { print("  run \(i) on store \(k) exited \(status)") }
            samples[k].append(s)
        }
    }
    for (k, (label, _, _)) in stores.enumerated() {
        let st = Stats(samples: samples[k])
        print("  ledger balance ACCOUNT --as-of RANDOM (\(label)): \(fmt(st.median * 1e3, 3)) ms median of \(runs) (\(fmt(st.min * 1e3, 3))–\(fmt(st.max * 1e3, 3)))")
    }
    print("ratio 10M-event store / 10k-event store:     \(fmt(Stats(samples: samples[1]).median / Stats(samples: samples[0]).median, 2))   (goal ≈ 1)")
    run("rm -rf '\(root)-length0' '\(root)-length1'")
}

// MARK: Import of 1M generated operations vs sqlite3 loading the same events

func importSpeed(root: String) throws {
    let bin = binDirectory()
    let ops = root + "-ops.ndjson", csv = root + "-ops.csv"
    print("")
    print("import of 1M operations over 10k accounts (ledger-sample --seed 42), durable:")
    run("'\(bin)/ledger-sample' --seed 42 --accounts 10000 --operations 1000000 --sqlite-csv '\(csv)' > '\(ops)'")
    let sqlite = "/usr/bin/sqlite3"
    let hasSQLite = access(sqlite, X_OK) == 0
    // Five rounds, ledger then sqlite3 in each: a noisy stretch of the machine slows both.
    let rounds = 5
    var samples: [Double] = [], sq: [Double] = []
    var rss = 0.0
    for _ in 0..<rounds {
        let dir = root + "-import"
        run("rm -rf '\(dir)'")
        let (s, status) = timeProcess([bin + "/ledger", "--dir", dir, "import", ops])
        guard status == 0 else {
            print("ledger import failed: exit status \(status)")
            exit(1)
        }
        samples.append(s)
        rss = max(rss, lastChildPeakRSSMiB)
        run("rm -rf '\(dir)'")
        guard hasSQLite else { continue }
        let db = root + "-import.db"
        run("rm -f '\(db)'")
        // The events table's rowid is its id (an INTEGER PRIMARY KEY column would be the same
        // b-tree; without one, .import fills the table's columns from the CSV's in order).
        run("\(sqlite) '\(db)' 'CREATE TABLE events(stream_id TEXT NOT NULL, version INTEGER NOT NULL, type TEXT NOT NULL, amount INTEGER, ts INTEGER NOT NULL)'")
        // sqlite3's fastest durable bulk load we found: in one transaction, the rows first and
        // then the unique index on (stream_id, version) built over them (2.5-3.3 s here; with
        // UNIQUE(stream_id, version) kept row by row, 3.7-4.8 s). A page cache of up to 1 GB (the
        // default is 2 MB) only helps it; journal and synchronous stay the defaults, so the load
        // is durable when the command returns, as ledger's is. The header row is skipped by
        // --skip 1 (the table exists, so no row names its columns).
        let (q, qStatus) = timeProcess([sqlite, db, "PRAGMA cache_size = -1000000", "BEGIN", ".import --csv --skip 1 \(csv) events",
                                        "CREATE UNIQUE INDEX events_stream_version ON events(stream_id, version)", "COMMIT"])
        let check = output("\(sqlite) '\(db)' \"SELECT (SELECT count(*) FROM events) || ',' || (SELECT count(*) FROM sqlite_master WHERE name = 'events_stream_version')\"")
        guard qStatus == 0, check == "1000000,1" else {
            print("sqlite3 .import failed: exit status \(qStatus); rows in events, then the unique index: \(check) (1000000, 1 expected)")
            exit(1)
        }
        sq.append(q)
        run("rm -f '\(db)'")
    }
    let st = Stats(samples: samples)
    print("ledger import:       \(fmt(1e6 / st.median / 1e3, 1)) k ops/s (median of \(rounds), \(fmt(st.median, 2)) s; \(fmt(st.min, 2))–\(fmt(st.max, 2)) s), peak RSS \(fmt(rss, 0)) MiB   (goal ≥ 1000 k ops/s)")
    if hasSQLite {
        let sqs = Stats(samples: sq)
        print("sqlite3 .import:     \(fmt(1e6 / sqs.median / 1e3, 1)) k ops/s (median of \(rounds), \(fmt(sqs.median, 2)) s; \(fmt(sqs.min, 2))–\(fmt(sqs.max, 2)) s)")
        print("ratio ledger / sqlite3 throughput: \(fmt(sqs.median / st.median, 2))   (goal ≥ 3)")
    }
    run("rm -f '\(ops)' '\(csv)'")
}
