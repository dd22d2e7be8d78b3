#include "common/os.h"

#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

void os_init_process(void) {
  /* A peer that hung up is an EPIPE from write, never a signal that ends the agent (systemd
   * would count a SIGPIPE death as a clean exit and not restart it). */
  signal(SIGPIPE, SIG_IGN);
  /* With TZ unset, every tzset() frees and reallocates glibc's copy of the name; pinning the
   * usual default makes later calls (libarchive makes them) return early. */
  setenv("TZ", ":/etc/localtime", 0);
  tzset();
  mallopt(M_MMAP_THRESHOLD, 8 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
}
