// How many processors this process may run on: its affinity mask (which a container's
// cpuset or `taskset` narrows), which Swift's Glibc module does not declare.
#define _GNU_SOURCE
#include <sched.h>
#include "ledger_accel.h"

int ledger_processors_allowed(void) {
#if defined(__linux__) && defined(CPU_COUNT)
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
#endif
    return 0;
}
