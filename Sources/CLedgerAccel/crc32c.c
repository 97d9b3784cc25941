// SSE4.2 crc32 kernel. The instruction computes CRC32C (Castagnoli) natively;
// we feed it 8 bytes at a time. Portable fallback lives in Swift (slicing-by-8).
#include "ledger_accel.h"
#include <string.h>

#if defined(__x86_64__)
#include "crc32c_hw.h"

__attribute__((target("sse4.2")))
uint32_t ledger_crc32c_hw_update(uint32_t state, const void *bytes, size_t n) {
    return ledger_crc32c_hw_loop(state, (const uint8_t *)bytes, n);
}
#else
uint32_t ledger_crc32c_hw_update(uint32_t state, const void *bytes, size_t n) {
    (void)bytes; (void)n; return state;
}
#endif
