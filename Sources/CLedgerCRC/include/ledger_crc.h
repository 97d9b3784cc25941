// Hardware CRC32C (Castagnoli) for x86-64 SSE4.2, chosen at run time.
// The state is the raw register: callers pass ~0 to start and invert the result.
#ifndef LEDGER_CRC_H
#define LEDGER_CRC_H
#include <stddef.h>
#include <stdint.h>

/// 1 when the CPU has the SSE4.2 crc32 instruction, else 0.
int ledger_crc32c_hw_available(void);

/// Advances the raw CRC32C state over `n` bytes with the crc32 instruction.
/// Only call when ledger_crc32c_hw_available() returned 1.
uint32_t ledger_crc32c_hw_update(uint32_t state, const void *bytes, size_t n);

#endif
