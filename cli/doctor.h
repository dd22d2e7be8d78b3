/*
 * gpupv doctor: what stands between this host and working GPUs in its guests, each finding
 * with a fix. From the host agent's status (the source scan, the WSL libraries, every guest's
 * failing checks and stale reports), the dashboard answering, and what only this machine can
 * say (doctor-win.c: the Hyper-V socket service, partitionable GPUs; doctor-posix.c: nothing
 * more). Exit 0 only when nothing fails.
 */
#ifndef GPUPV_CLI_DOCTOR_H
#define GPUPV_CLI_DOCTOR_H

#include <cjson/cJSON.h>
#include <stdio.h>

enum doctor_level { DOCTOR_OK, DOCTOR_WARN, DOCTOR_FAIL };

struct doctor {
  FILE *out;
  int colour;
  int fails, warns;
};

/* Prints one finding and counts it. fix may be NULL. */
void doctor_say(struct doctor *d, enum doctor_level level, const char *what, const char *detail,
                const char *fix);
/* The findings of the host agent's status document. */
void doctor_status(struct doctor *d, const cJSON *status);
/* GET path from the dashboard at url ("http://127.0.0.1:PORT/"): the HTTP status, or -1. */
int doctor_http_get(const char *url, const char *path);
/* This machine's own findings (per platform). */
void doctor_platform(struct doctor *d);

#endif
