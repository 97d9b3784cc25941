// The SSE4.2 crc32 loop, shared by crc32c.c (one buffer) and frames.c (a run of frames),
// so that the frame scan's CRCs are inlined into its loop. Internal: not in include/.
#ifndef LEDGER_CRC32C_HW_H
#define LEDGER_CRC32C_HW_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>

__attribute__((target("sse4.2"), always_inline))
static inline uint32_t ledger_crc32c_hw_loop(uint32_t state, const uint8_t *p, size_t n) {
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
#endif
#endif
