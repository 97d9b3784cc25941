// How many threads a job split into parts uses: the processors this process may run on.

import CLedgerAccel

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The processors this process may run on (at least 1): how many threads a job split into
/// parts uses. Its CPU affinity mask, where there is one (a container or `taskset` limits it),
/// else the processors online.
public enum Processors {
    public static var online: Int {
        let all = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        let allowed = Int(ledger_processors_allowed())
        return allowed > 0 ? min(all, allowed) : all
    }
}
