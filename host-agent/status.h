/* The status document: the host's generation and every guest, as JSON (keys in PROTOCOL.md). */
#ifndef GPUPV_HOST_STATUS_H
#define GPUPV_HOST_STATUS_H

#include "host-agent/host-state.h"

#include <cjson/cJSON.h>

/* A new document (caller deletes), or NULL when out of memory. */
cJSON *status_json(const struct host_state *st);
/* One guest's entry, as in the document's guests[]. */
cJSON *status_guest_json(const struct host_state *st, const struct guest *g);
/* "in_sync", "stale", "installing", "error", "pinned"... */
const char *status_guest_state(const struct host_state *st, const struct guest *g);

#endif
