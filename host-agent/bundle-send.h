/*
 * Sends the published generation to `gpupv bundle` over the control socket, for an offline
 * bundle (docs/bundles.md): a "bundle" message with the generation's signature and the
 * manifest's size, the manifest as data frames, then for each distinct blob a "bundle_blob"
 * message {sha256, size} and its content as data frames, then "bundle_end". Files are read on
 * the thread pool a chunk at a time, and no more is read while the CLI has not taken what was
 * sent (the conn's write queue above CONN_HIGH_WATER).
 */
#ifndef GPUPV_HOST_BUNDLE_SEND_H
#define GPUPV_HOST_BUNDLE_SEND_H

#include "host-agent/session.h"
#include "net/conn.h"

struct bundle_send;

/* Starts sending offer's generation on c; NULL (c failed with the reason) when there is none. */
struct bundle_send *bundle_send_start(uv_loop_t *loop, struct conn *c,
                                      const struct session_offer *offer);
/* The conn's write queue drained: reads on. */
void bundle_send_drain(struct bundle_send *b);
/* The conn is gone: frees b now, or when the read in flight ends. */
void bundle_send_stop(struct bundle_send *b);

#endif
