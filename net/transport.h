/*
 * Listening and connecting by URI. transport.c serves tcp, tls and local endpoints (unix:
 * sockets, pipe: named pipes); the platform files add VM sockets: vsock in transport-posix.c,
 * hvsock in transport-win.c. A kind the platform lacks answers UV_ENOTSUP.
 */
#ifndef GPUPV_NET_TRANSPORT_H
#define GPUPV_NET_TRANSPORT_H

#include "net/conn.h"
#include "net/uri.h"

#include <uv.h>

struct listener;
/* A new connection, not yet reading. The callee takes it over. */
typedef void (*listener_accept_cb)(struct listener *l, struct conn *c);

struct listener {
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } h;
  struct uri uri;
  uv_loop_t *loop;
  void *platform; /* the platform's accept thread state, where it has one */
  listener_accept_cb on_accept;
  const struct conn_ops *conn_ops;
  void *owner;
  const struct tls_identity *tls; /* tls:// listeners: borrowed, outlives the listener */
  void (*on_closed)(struct listener *l);
};

/*
 * Binds and listens. unix_mode sets a Unix socket's permissions (0 keeps the umask's). A Unix
 * socket path left behind by a dead process is replaced; one that answers is refused with
 * UV_EADDRINUSE. Accepted conns get conn_ops and owner.
 */
int listener_start(struct listener *l, uv_loop_t *loop, const struct uri *uri, int unix_mode,
                   const struct conn_ops *conn_ops, void *owner, listener_accept_cb on_accept);
/* The same for a tls:// uri: each accepted conn starts its handshake with id before the owner
 * gets it (conn.h, conn_start_tls). A tls:// uri given to listener_start is refused per conn. */
int listener_start_tls(struct listener *l, uv_loop_t *loop, const struct uri *uri,
                       const struct tls_identity *id, const struct conn_ops *conn_ops, void *owner,
                       listener_accept_cb on_accept);
/* Closes the listener; on_closed (may be NULL) runs from the loop. */
void listener_close(struct listener *l, void (*on_closed)(struct listener *l));

typedef void (*transport_connect_cb)(struct conn *c, int status);
/*
 * Connects c (made by conn_new for uri->kind) to uri; cb runs with 0 or an error. On an error
 * return, cb will not run and c is still the caller's to close.
 */
int transport_connect(struct conn *c, const struct uri *uri, transport_connect_cb cb);
/* The same for a tls:// uri (and only for one), presenting id; cb runs once the handshake is
 * done, when c->has_peer_key tells the host's key. */
int transport_connect_tls(struct conn *c, const struct uri *uri, const struct tls_identity *id,
                          transport_connect_cb cb);

/*
 * Whether uri can ever work here, to listen on (listening) or to connect to: the platform has
 * the kind, tcp is loopback, tls is numeric, a connect names a CID. Pure: 0, or GPUPV_EURI with a
 * reason.
 */
int transport_check(const struct uri *uri, int listening, const char **ret_reason);

/* Builds a vsock address; pure, for tests. Returns 0 or GPUPV_EURI. */
int transport_vsock_check(const struct uri *uri);

#endif
