/* Human-readable output of the gpupv CLI. */
#ifndef GPUPV_CLI_RENDER_H
#define GPUPV_CLI_RENDER_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>

/* "1.5 GiB" style; returns out. */
const char *render_bytes(double bytes, char *out, size_t size);
/* The table of `gpupv status`; colour adds ANSI colours (for a terminal); width (columns, 0 for
 * no limit) cuts long names, GPU text and push results with "…" so columns never shift. */
void render_status(FILE *out, const cJSON *status, int colour, int width);
/* Everything about one guest, for `gpupv status GUEST`. */
void render_guest(FILE *out, const cJSON *guest, const cJSON *host, int colour);
void render_manifest(FILE *out, const cJSON *manifest);
/* A bar per guest (phase, percentage, rate, ETA) and a total line, redrawn in place on a
 * terminal. */
void render_progress(FILE *out, const cJSON *progress, int width);
void render_push_result(FILE *out, const cJSON *result);

#endif
