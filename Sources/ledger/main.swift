// The `ledger` executable: hands the command line to LedgerCLI and exits with its status.

import LedgerCLI

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

var environment: [String: String] = [:]
var envp = environ
while let entry = envp.pointee {
    let pair = String(cString: entry)
    if let eq = pair.firstIndex(of: "=") { environment[String(pair[..<eq])] = String(pair[pair.index(after: eq)...]) }
    envp += 1
}
// A write past RLIMIT_FSIZE must fail with EFBIG (exit 5, store consistent), not kill us.
signal(SIGXFSZ, SIG_IGN)
exit(CLI.run(Array(CommandLine.arguments.dropFirst()), environment: environment))
