// SSE4.2 crc32 kernel. The instruction computes CRC32C (Castagnoli) natively;
// we feed it 8 bytes at a time. Portable fallback lives in Swift (slicing-by-8).
#include "ledger_accel.h"
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>

__attribute__((target("sse4.2")))
uint32_t ledger_crc32c_hw_update(uint32_t state, const void *bytes, size_t n) {
    const uint8_t *p = (const uint8_t *)bytes;
    uint64_t c = state;
    while (n >= 32) {
        uint64_t a, b, d, e;
        memcpy(&a, p, 8); memcpy(&b, p + 8, 8); memcpy(&d, p + 16, 8); memcpy(&e, p + 24, 8);
        c = _mm_crc32_u64(c, a); c = _mm_crc32_u64(c, b);
        c = _mm_crc32_u64(c, d); c = _mm_crc32_u64(c, e);
        p += 32; n -= 32;
    }
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = _mm_crc32_u64(c, v);
        p += 8; n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n > 0) { c32 = _mm_crc32_u8(c32, *p++); n--; }
    return c32;
}
#else
uint32_t ledger_crc32c_hw_update(uint32_t state, const void *bytes, size_t n) {
    (void)bytes; (void)n; return state;
}
#endif
