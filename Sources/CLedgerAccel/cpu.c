// Which of the kernels this CPU can run. glibc detected the CPU's features once at start;
// asking it costs nothing, while each `cpuid` instruction traps to the hypervisor on a VM
// (12 µs each measured here, and libgcc's __builtin_cpu_init runs a dozen at start-up: a
// command's whole budget is ~2 ms). Without glibc's interface, cpuid itself.
#include "ledger_accel.h"

int ledger_crc32c_hw_known = -1;

#if defined(__x86_64__) && defined(__has_include)
#if __has_include(<sys/platform/x86.h>)
#define LEDGER_GLIBC_CPU_FEATURES 1
#include <sys/platform/x86.h>
#endif
#endif

#if defined(__x86_64__) && defined(LEDGER_GLIBC_CPU_FEATURES)
int ledger_crc32c_hw_available(void) { return CPU_FEATURE_ACTIVE(SSE4_2) ? 1 : 0; }
int ledger_sha256_hw_available(void) {
    return CPU_FEATURE_ACTIVE(SHA) && CPU_FEATURE_ACTIVE(SSSE3) && CPU_FEATURE_ACTIVE(SSE4_1) ? 1 : 0;
}
#elif defined(__x86_64__)
#include <cpuid.h>
int ledger_crc32c_hw_available(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    return (c >> 20) & 1;
}
int ledger_sha256_hw_available(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int ssse3 = (c >> 9) & 1, sse41 = (c >> 19) & 1;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return ssse3 && sse41 && ((b >> 29) & 1);
}
#else
int ledger_crc32c_hw_available(void) { return 0; }
int ledger_sha256_hw_available(void) { return 0; }
#endif
