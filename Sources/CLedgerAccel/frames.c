// The log's frames checked a run at a time (every read of the log: replay, as-of, verify,
// recovery): the loop a reader spends most of its time in, with each frame's CRC inlined.
// It accepts only what the Swift scanner (SegmentScanner) accepts as a plain record and
// stops before anything else (a commit, a defect, a frame cut short), which the scanner
// then reads itself, so every error is still worded and placed by one piece of code.
#include "ledger_accel.h"
#include "crc32c_hw.h"
#include <string.h>

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
size_t ledger_scan_records(const uint8_t *p, size_t available, uint64_t *next_position, int64_t *last_timestamp,
                           uint64_t stop_position, size_t records_max, uint32_t body_min, uint32_t body_max,
                           uint16_t reserved_type_first) {
    size_t at = 0, records = 0;
    uint64_t expected = *next_position;
    int64_t last = *last_timestamp;
    // Frame: u32 body length, u32 crc32c(body), body (u64 position, i64 timestamp, u16 type,
    // u16 schema version, payload); little-endian, as this CPU is.
    while (records < records_max && available - at >= 8) {
        uint32_t body, crc;
        memcpy(&body, p + at, 4);
        memcpy(&crc, p + at + 4, 4);
        if (body < body_min || body > body_max || available - at - 8 < body) break;
        const uint8_t *b = p + at + 8;
        uint64_t position;
        int64_t timestamp;
        uint16_t type;
        memcpy(&position, b, 8);
        memcpy(&timestamp, b + 8, 8);
        memcpy(&type, b + 16, 2);
        if (type >= reserved_type_first || position != expected || timestamp < last) break;
        if (~ledger_crc32c_hw_loop(0xFFFFFFFFu, b, body) != crc) break;
        expected++;
        last = timestamp;
        records++;
        at += 8 + (size_t)body;
        if (position == stop_position) break;
    }
    *next_position = expected;
    *last_timestamp = last;
    return at;
}
#else
size_t ledger_scan_records(const uint8_t *p, size_t available, uint64_t *next_position, int64_t *last_timestamp,
                           uint64_t stop_position, size_t records_max, uint32_t body_min, uint32_t body_max,
                           uint16_t reserved_type_first) {
    (void)p; (void)available; (void)next_position; (void)last_timestamp; (void)stop_position;
    (void)records_max; (void)body_min; (void)body_max; (void)reserved_type_first;
    return 0;
}
#endif
