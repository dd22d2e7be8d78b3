/*
 * Many idle guests at once for scale tests and the benchmark: raw connections that say hello
 * (in sync with the given generation, so nothing is pushed) and then only keep quiet.
 */
#ifndef GPUPV_TESTS_SWARM_H
#define GPUPV_TESTS_SWARM_H

#include <stddef.h>

struct swarm {
  int *fds;
  size_t n;
};

/* Connects n guests named PREFIX-0000... to the Unix socket path, each after its welcome;
 * generation (hex, may be NULL) is the one they claim. 0, or -1 with a line on stderr. */
int swarm_open(struct swarm *s, const char *path, size_t n, const char *prefix,
               const char *generation);
void swarm_close(struct swarm *s);

#endif
