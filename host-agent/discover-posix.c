/* Linux and KVM hosts have no DriverStore to ask: the configured folders are the source. */
#include "host-agent/discover.h"

#include <stdio.h>
#include <uv.h>

int discover_available(void) {
  return 0;
}

int discover_sources(struct discovery *d, char *why, size_t why_size) {
  (void)d;
  snprintf(why, why_size, "discovery needs a Windows host");
  return UV_ENOTSUP;
}
