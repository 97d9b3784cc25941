// The structure of one NDJSON import line found 16 bytes at a time (SSE2, which every
// x86-64 has; a byte loop elsewhere): where its double quotes are, and whether it holds a
// backslash, a control character or a non-ASCII byte. The import's common lines are then
// split at their quotes without a byte-by-byte scan (ImportFormats.swift, NDJSONLine).

#include "ledger_accel.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#if defined(__SSE2__)
/// The block's quotes (from `skip` on: the lanes before it were read already) and flags.
static inline size_t block(__m128i x, size_t at, unsigned skip, uint32_t *positions, size_t count, size_t max, uint32_t *f) {
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
    const __m128i top3 = _mm_set1_epi8((char)0xE0), zero = _mm_setzero_si128();
    unsigned keep = 0xFFFFu << skip;
    unsigned q = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, quote)) & keep;
    // A byte below 0x20 has its top three bits clear; one of 0x80 or more has its top bit set.
    unsigned special = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, backslash)) & keep;
    unsigned control = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(x, top3), zero)) & keep;
    unsigned high = (unsigned)_mm_movemask_epi8(x) & keep;
    *f |= (special ? 1u : 0u) | (control ? 2u : 0u) | (high ? 4u : 0u);
    while (q) {
        if (count < max) positions[count] = (uint32_t)(at + (size_t)__builtin_ctz(q));
        count++;
        q &= q - 1;
    }
    return count;
}
#endif

size_t ledger_json_quotes(const uint8_t *p, size_t n, uint32_t *positions, size_t max, uint32_t *flags) {
    size_t count = 0, i = 0;
    uint32_t f = 0;
#if defined(__SSE2__)
    if (n >= 16) {
        for (; i + 16 <= n; i += 16) {
            count = block(_mm_loadu_si128((const __m128i *)(p + i)), i, 0, positions, count, max, &f);
        }
        // The last bytes: the final 16 of the line, the lanes already read skipped (none are
        // left for the byte loop below).
        if (i < n) {
            count = block(_mm_loadu_si128((const __m128i *)(p + n - 16)), n - 16, (unsigned)(16 - (n - i)), positions, count, max, &f);
            i = n;
        }
    }
#endif
    for (; i < n; i++) {
        uint8_t c = p[i];
        if (c == '"') {
            if (count < max) positions[count] = (uint32_t)i;
            count++;
        }
        if (c == '\\') f |= 1u;
        if (c < 0x20) f |= 2u;
        if (c >= 0x80) f |= 4u;
    }
    *flags = f;
    return count > max ? max + 1 : count;
}
