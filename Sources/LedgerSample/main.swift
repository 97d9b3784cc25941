// ledger-sample: writes a deterministic history as import lines, and its expected balances.
//   ledger-sample [--seed N] [--accounts A] [--operations N] [--expect FILE] [--sqlite-csv FILE]
// stdout: NDJSON for `ledger import`. --expect FILE: {"midpoint": {"at", "position", "balances"},
// "final": {"at", "position", "balances"}} computed by the generator itself.
// --sqlite-csv FILE: the same operations as rows stream_id,version,type,amount,ts for sqlite3.

import LedgerSampleData

#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String, _ status: Int32 = 2) -> Never {
    let bytes = Array("ledger-sample: \(message)\n".utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(status)
}

var seed: UInt64 = 1
var accounts = 50
var operations = 5_000
var expectPath: String?
var csvPath: String?
var args = Array(CommandLine.arguments.dropFirst())
while !args.isEmpty {
    let a = args.removeFirst()
    guard let v = args.first else { fail("\(a) needs a value") }
    args.removeFirst()
    switch a {
    case "--seed": seed = UInt64(v) ?? 1
    case "--accounts": accounts = Int(v) ?? accounts
    case "--operations": operations = Int(v) ?? operations
    case "--expect": expectPath = v
    case "--sqlite-csv": csvPath = v
    default: fail("unknown option \(a)")
    }
}
guard accounts >= 2, operations >= accounts else { fail("need accounts >= 2 and operations >= accounts") }

final class Output {
    let fd: Int32
    var buffer: [UInt8] = []
    init(_ fd: Int32) { self.fd = fd }
    func line(_ s: String) {
        buffer += s.utf8
        buffer.append(0x0A)
        if buffer.count > 1 << 20 { flush() }
    }
    func flush() {
        buffer.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = write(fd, raw.baseAddress! + done, raw.count - done)
                if n <= 0 { break }
                done += n
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

func create(_ path: String) -> Int32 {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    if fd < 0 { fail("cannot write \(path)", 5) }
    return fd
}

var generator = SampleGenerator(seed: seed, accounts: accounts, operations: operations)
let out = Output(1)
let csv = csvPath.map { Output(create($0)) }
csv?.line("stream_id,version,type,amount,ts")
var midpoint = ""
while let op = generator.next() {
    out.line(SampleGenerator.ndjson(op))
    csv?.line("\(SampleGenerator.name(op.account)),\(op.version),\(op.kind.rawValue),\(op.cents),\(op.micros)")
    if generator.emitted == operations / 2 {
        midpoint = "{\"at\":\"\(SampleGenerator.rfc3339(op.micros))\",\"position\":\(generator.emitted),\"balances\":\(generator.balancesJSON())}"
    }
}
out.flush()
csv?.flush()
if let expectPath {
    let o = Output(create(expectPath))
    o.line("{\"seed\":\(seed),\"accounts\":\(accounts),\"operations\":\(operations),\"midpoint\":\(midpoint),\"final\":{\"at\":\"\(SampleGenerator.rfc3339(generator.lastMicros))\",\"position\":\(operations),\"balances\":\(generator.balancesJSON())}}")
    o.flush()
}
