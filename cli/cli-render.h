/* Human-readable output of the gpupv CLI. */
#ifndef GPUPV_CLI_RENDER_H
#define GPUPV_CLI_RENDER_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>

/* "1.5 GiB" style; returns out. */
const char *render_bytes(double bytes, char *out, size_t size);
/* The table of `gpupv status`; colour adds ANSI colours (for a terminal). */
void render_status(FILE *out, const cJSON *status, int colour);
/* Everything about one guest, for `gpupv status GUEST`. */
void render_guest(FILE *out, const cJSON *guest, const cJSON *host, int colour);
void render_manifest(FILE *out, const cJSON *manifest);
/* One progress line (no newline), for a terminal. */
void render_progress(FILE *out, const cJSON *progress);
void render_push_result(FILE *out, const cJSON *result);

#endif
