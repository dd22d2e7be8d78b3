/* The control API on a local socket: status, manifest and push for the gpupv CLI. */
#ifndef GPUPV_HOST_CONTROL_H
#define GPUPV_HOST_CONTROL_H

#include "host-agent/host-state.h"

struct control;

/* Listens on uri_text (0600 for a Unix socket); *ret is new. Logs its own errors. */
int control_start(struct host_state *st, const char *uri_text, struct control **ret);
/* Closes the listener and every client; frees once the last one is closed. */
void control_stop(struct control *ctl);
/* Closes clients that have read nothing of what is queued for them for timeout_ms (a CLI
 * stopped with progress documents piling up). */
void control_close_stalled(struct control *ctl, uint64_t now_ms, uint64_t timeout_ms);

#endif
