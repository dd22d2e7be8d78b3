#include "common/os.h"

#include <malloc.h>
#include <stdlib.h>
#include <time.h>

void os_init_process(void) {
  /* With TZ unset, every tzset() frees and reallocates glibc's copy of the name; pinning the
   * usual default makes later calls (libarchive makes them) return early. */
  setenv("TZ", ":/etc/localtime", 0);
  tzset();
  mallopt(M_MMAP_THRESHOLD, 8 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
}
