#include "common/os.h"

#include <malloc.h>

void os_tune_allocator(void) {
  mallopt(M_MMAP_THRESHOLD, 8 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
}
