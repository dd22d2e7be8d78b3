/*
 * The guest's GPU checks as the report carries them: "checks", an array of
 * {id, level: ok|warn|fail, detail, fix}, and "healthy", true when no check failed. The
 * probes (probe-linux.c, probe-win.c) decide; this only builds and compares. See
 * docs/checks.md for every check.
 */
#ifndef GPUPV_GUEST_CHECKS_H
#define GPUPV_GUEST_CHECKS_H

#include <cjson/cJSON.h>

enum check_level { CHECK_OK, CHECK_WARN, CHECK_FAIL };

/* Adds a check to status's "checks" (made when missing). fix may be NULL (none needed). */
void checks_add(cJSON *status, const char *id, enum check_level level, const char *detail,
                const char *fix);
/* Sets status's "healthy": no check failed. */
void checks_finish(cJSON *status);
/* 1 when a and b hold the same checks with the same levels and details (a change to report). */
int checks_same(const cJSON *a, const cJSON *b);

#endif
