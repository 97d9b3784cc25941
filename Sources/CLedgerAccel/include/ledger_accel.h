// Hardware kernels for x86-64, each chosen at run time with a portable Swift fallback:
// CRC32C with the SSE4.2 crc32 instruction, SHA-256 blocks with the SHA extensions;
// a prefetch hint, and a write-back hint for files.
#ifndef LEDGER_ACCEL_H
#define LEDGER_ACCEL_H
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

/// 1 when the CPU has the SSE4.2 crc32 instruction, else 0.
int ledger_crc32c_hw_available(void);

/// ledger_crc32c_hw_available()'s answer once asked (-1 before).
extern int ledger_crc32c_hw_known;

/// ledger_crc32c_hw_available(), asked once: a load and a compare per call, where a Swift
/// lazy global costs a call into the runtime (swift_once) on every CRC, ~1.5 % of a replay.
static inline int ledger_crc32c_hw(void) {
    int known = __atomic_load_n(&ledger_crc32c_hw_known, __ATOMIC_RELAXED);
    if (known < 0) {
        known = ledger_crc32c_hw_available();
        __atomic_store_n(&ledger_crc32c_hw_known, known, __ATOMIC_RELAXED);
    }
    return known;
}

/// Advances the raw CRC32C state over `n` bytes with the crc32 instruction.
/// The state is the raw register: callers pass ~0 to start and invert the result.
/// Only call when ledger_crc32c_hw_available() returned 1.
uint32_t ledger_crc32c_hw_update(uint32_t state, const void *bytes, size_t n);

/// Checks the frames at `p` (`available` bytes) while each is a complete plain record: body
/// length in [body_min, body_max], type below reserved_type_first, position *next_position
/// (then one more each), timestamp not below *last_timestamp, CRC32C matching; at most
/// `records_max` of them, and none after the one at `stop_position`. Returns the bytes those
/// frames take and advances *next_position and *last_timestamp past them; stops before any
/// other frame (0 bytes when the first is one). Only call when ledger_crc32c_hw() is 1.
size_t ledger_scan_records(const uint8_t *p, size_t available, uint64_t *next_position, int64_t *last_timestamp,
                           uint64_t stop_position, size_t records_max, uint32_t body_min, uint32_t body_max,
                           uint16_t reserved_type_first);

/// How many processors this process may run on (its affinity mask), or 0 when unknown.
int ledger_processors_allowed(void);

/// pthread_create, the thread started on another processor than the caller's when the process
/// may run on one (then allowed every processor the process may run on, before `work`): a new
/// thread otherwise often waits behind its creator on the same processor for milliseconds.
int ledger_thread_create_elsewhere(pthread_t *thread, void *(*work)(void *), void *context);

/// 1 when the CPU has the SHA extensions (and SSSE3 / SSE4.1 they are used with), else 0.
int ledger_sha256_hw_available(void);

/// Compresses `blocks` 64-byte blocks into `state` (H0..H7 as in FIPS 180-4).
/// Only call when ledger_sha256_hw_available() returned 1.
void ledger_sha256_hw_blocks(uint32_t state[8], const void *data, size_t blocks);

/// Starts writing a file's dirty bytes in [offset, offset + count) to the device without
/// waiting for them (sync_file_range with SYNC_FILE_RANGE_WRITE; a no-op where there is none).
/// A hint: nothing is durable until an fdatasync. Returns what sync_file_range returned.
int ledger_start_writeback(int fd, int64_t offset, int64_t count);

/// The offsets of the double quotes in p[0..<n), at most `max` of them written to `positions`;
/// `flags` gets bit 0 if the bytes hold a backslash, bit 1 a byte below 0x20, bit 2 a byte of
/// 0x80 or more. Returns the number of quotes, or max + 1 when there are more than `max`.
size_t ledger_json_quotes(const uint8_t *p, size_t n, uint32_t *positions, size_t max, uint32_t *flags);

/// A hint that the cache line at `p` will be written soon: its miss starts now, hidden
/// behind the work done meanwhile (a no-op where the compiler has no such instruction).
static inline void ledger_prefetch_for_write(const void *p) { __builtin_prefetch(p, 1, 3); }

/// The same hint for memory that will be read soon.
static inline void ledger_prefetch_for_read(const void *p) { __builtin_prefetch(p, 0, 3); }

/// Copies `words` 8-byte words from `src` to `dst` (8-byte aligned) with stores that bypass
/// the cache: for memory another core reads next and wrote nothing to, whose lines an
/// ordinary store would first have to take from that core's cache. Plain stores where there
/// are no such instructions. Call ledger_stream_fence() before handing the memory over.
static inline void ledger_stream_words(void *dst, const void *src, size_t words) {
#if defined(__x86_64__)
    long long *d = (long long *)dst;
    const unsigned char *s = (const unsigned char *)src;
    for (size_t i = 0; i < words; i++) {
        long long v;
        __builtin_memcpy(&v, s + 8 * i, 8);
        __builtin_ia32_movnti64(d + i, v);
    }
#else
    __builtin_memcpy(dst, src, words * 8);
#endif
}

/// Orders the streaming stores before every later store (the hand-over that publishes them).
static inline void ledger_stream_fence(void) {
#if defined(__x86_64__)
    __builtin_ia32_sfence();
#endif
}

#endif
