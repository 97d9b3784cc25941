// sync_file_range is a GNU extension: Swift's Glibc module does not declare it.
#define _GNU_SOURCE
#include <fcntl.h>
#include "ledger_accel.h"

int ledger_start_writeback(int fd, int64_t offset, int64_t count) {
#ifdef SYNC_FILE_RANGE_WRITE
    return sync_file_range(fd, offset, count, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd; (void)offset; (void)count;
    return 0;
#endif
}
