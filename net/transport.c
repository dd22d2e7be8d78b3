/* Listening and connecting by URI: TCP and local endpoints through libuv; VM sockets through
 * the platform files (transport-platform.h). */
#include "net/transport.h"

#include "common/err.h"
#include "common/log.h"
#include "net/transport-platform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "tcp:ADDR:PORT" or "tls:ADDR:PORT" (scheme), for log lines. */
static void describe_tcp(struct conn *c, const char *scheme) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  char addr[64] = "?";
  int port = 0;
  if (uv_tcp_getpeername(&c->h.tcp, (struct sockaddr *)&ss, &len) != 0)
    return;
  if (ss.ss_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
    uv_ip4_name(in, addr, sizeof addr);
    port = ntohs(in->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
    uv_ip6_name(in6, addr, sizeof addr);
    port = ntohs(in6->sin6_port);
  }
  snprintf(c->peer, sizeof c->peer, "%s:%s:%d", scheme, addr, port);
}

static void describe_peer(struct conn *c, const struct uri *uri) {
  uv_os_fd_t fd;
  switch (uri->kind) {
  case URI_UNIX:
    snprintf(c->peer, sizeof c->peer, "%.120s", uri->text);
    break;
  case URI_TCP:
  case URI_TLS:
    describe_tcp(c, uri->kind == URI_TLS ? "tls" : "tcp");
    break;
  case URI_VSOCK:
  case URI_HVSOCK:
    if (uv_fileno(&c->h.handle, &fd) == 0)
      transport_vm_describe(c, (uv_os_sock_t)(uintptr_t)fd);
    break;
  }
}

static void on_connection(uv_stream_t *server, int status) {
  struct listener *l = server->data;
  if (status) {
    log_warn("%s: accept: %s", l->uri.text, uv_strerror(status));
    return;
  }
  struct conn *c = conn_new(server->loop, l->uri.kind, l->conn_ops, l->owner);
  if (!c)
    return;
  if (uv_accept(server, &c->h.stream)) {
    conn_close(c, 0);
    return;
  }
  describe_peer(c, &l->uri);
  if (l->uri.kind == URI_TLS) {
    /* the owner adopts it at once; its hello deadline also bounds the handshake */
    int err = l->tls ? conn_start_tls(c, l->tls) : UV_EINVAL;
    if (err) {
      log_warn("%s: %s: cannot start TLS: %s", l->uri.text, c->peer, gpupv_strerror(err));
      conn_close(c, err);
      return;
    }
  }
  l->on_accept(l, c);
}

void transport_adopt_accepted(struct listener *l, uv_os_sock_t sock) {
  struct conn *c = conn_new(l->loop, l->uri.kind, l->conn_ops, l->owner);
  if (!c) {
    transport_vm_close_socket(sock);
    return;
  }
  int err = uv_tcp_open(&c->h.tcp, sock);
  if (err) {
    log_warn("%s: adopting a connection: %s", l->uri.text, uv_strerror(err));
    transport_vm_close_socket(sock);
    conn_close(c, 0);
    return;
  }
  describe_peer(c, &l->uri);
  l->on_accept(l, c);
}

/* A numeric address; a tcp:// one must be loopback (only tls:// may leave the machine). */
static int tcp_address(const struct uri *uri, struct sockaddr_storage *ret) {
  int any = uri->kind == URI_TLS;
  if (uv_ip4_addr(uri->host, (int)uri->port, (struct sockaddr_in *)ret) == 0) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)ret;
    return any || (ntohl(in->sin_addr.s_addr) >> 24) == 127 ? 0 : GPUPV_EURI;
  }
  if (uv_ip6_addr(uri->host, (int)uri->port, (struct sockaddr_in6 *)ret) == 0) {
    static const uint8_t loopback[16] = {[15] = 1};
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ret;
    return any || memcmp(&in6->sin6_addr, loopback, 16) == 0 ? 0 : GPUPV_EURI;
  }
  return GPUPV_EURI;
}

int transport_check(const struct uri *uri, int listening, const char **ret_reason) {
  struct sockaddr_storage ss;
  const char *reason = NULL;
  switch (uri->kind) {
  case URI_UNIX:
    break; /* the path is checked when used: a pipe name off Windows fails there */
  case URI_TCP:
    if (tcp_address(uri, &ss))
      reason = "tcp:// is loopback-only (127.0.0.1 or [::1]); across machines use tls://";
    break;
  case URI_TLS:
    if (tcp_address(uri, &ss))
      reason = "tls:// needs a numeric address (such as 10.0.2.2 or [fd00::1])";
    break;
  case URI_VSOCK:
  case URI_HVSOCK:
    if (!transport_vm_supported(uri))
      reason = uri->kind == URI_VSOCK ? "vsock:// is for Linux; on Windows use hvsock://"
                                      : "hvsock:// is for Windows; on Linux use vsock://";
    else if (uri->kind == URI_VSOCK && !listening && uri->cid == URI_VSOCK_CID_ANY)
      reason = "a connect needs a CID (2 is the host), not any";
    else if (uri->kind == URI_VSOCK && transport_vsock_check(uri))
      reason = "vsock ports run up to 2147483647";
    break;
  }
  if (!reason)
    return 0;
  *ret_reason = reason;
  return GPUPV_EURI;
}

int transport_vsock_check(const struct uri *uri) {
  return uri->kind == URI_VSOCK && uri->port <= 0x7fffffff ? 0 : GPUPV_EURI;
}

int listener_start(struct listener *l, uv_loop_t *loop, const struct uri *uri, int unix_mode,
                   const struct conn_ops *conn_ops, void *owner, listener_accept_cb on_accept) {
  memset(l, 0, sizeof *l);
  l->uri = *uri;
  l->loop = loop;
  l->conn_ops = conn_ops;
  l->owner = owner;
  l->on_accept = on_accept;
  int err = 0;
  struct sockaddr_storage ss;
  switch (uri->kind) {
  case URI_UNIX:
    if ((err = transport_local_prepare(uri)))
      return err;
    if ((err = uv_pipe_init(loop, &l->h.pipe, 0)))
      return err;
    err = uv_pipe_bind(&l->h.pipe, uri->path);
    if (!err)
      err = transport_local_restrict(l, unix_mode);
    break;
  case URI_TCP:
  case URI_TLS:
    if ((err = tcp_address(uri, &ss)))
      return err;
    if ((err = uv_tcp_init(loop, &l->h.tcp)))
      return err;
    err = uv_tcp_bind(&l->h.tcp, (struct sockaddr *)&ss, 0);
    break;
  case URI_VSOCK:
  case URI_HVSOCK:
    if (!transport_vm_supported(uri))
      return UV_ENOTSUP;
    /* the platform listens; it starts l->h.tcp with uv_listen, or accepts on a thread */
    return transport_vm_listen(l, loop);
  }
  l->h.handle.data = l;
  if (!err)
    err = uv_listen(&l->h.stream, 128, on_connection);
  if (err) {
    uv_close(&l->h.handle, NULL);
    return err;
  }
  return 0;
}

int listener_start_tls(struct listener *l, uv_loop_t *loop, const struct uri *uri,
                       const struct tls_identity *id, const struct conn_ops *conn_ops, void *owner,
                       listener_accept_cb on_accept) {
  int err = listener_start(l, loop, uri, 0, conn_ops, owner, on_accept);
  if (!err)
    l->tls = id; /* no connection is accepted before the loop runs again */
  return err;
}

int transport_listen_stream(struct listener *l) {
  l->h.handle.data = l;
  int err = uv_listen(&l->h.stream, 128, on_connection);
  if (err)
    uv_close(&l->h.handle, NULL);
  return err;
}

static void on_listener_closed(uv_handle_t *h) {
  struct listener *l = h->data;
  if (l->uri.kind == URI_UNIX)
    transport_local_closed(&l->uri);
  if (l->on_closed)
    l->on_closed(l);
}

void listener_close(struct listener *l, void (*on_closed)(struct listener *l)) {
  l->on_closed = on_closed;
  if (!transport_vm_close(l))
    uv_close(&l->h.handle, on_listener_closed);
}

struct connect_req {
  union {
    uv_connect_t connect;
    uv_work_t work;
  } u;
  struct conn *c;
  struct uri uri;
  transport_connect_cb cb;
  const struct tls_identity *tls;
  uv_os_sock_t sock;
  int err;
};

static void on_stream_connected(uv_connect_t *req, int status) {
  struct connect_req *r = req->data;
  struct conn *c = r->c;
  transport_connect_cb cb = r->cb;
  const struct tls_identity *tls = r->tls;
  if (!status)
    describe_peer(c, &r->uri);
  free(r);
  if (status || !tls) {
    cb(c, status);
    return;
  }
  /* connected once the handshake is done: the callback runs from c->on_secure */
  c->on_secure = cb;
  int err = conn_start_tls(c, tls);
  if (err) {
    c->on_secure = NULL;
    cb(c, err);
  }
}

/* A VM socket's connect() blocks, so it runs on the thread pool and the loop adopts it. */
static void vm_connect_work(uv_work_t *work) {
  struct connect_req *r = work->data;
  r->err = transport_vm_connect(&r->uri, &r->sock);
}

static void vm_connect_done(uv_work_t *work, int status) {
  struct connect_req *r = work->data;
  struct conn *c = r->c;
  int err = status ? status : r->err;
  if (c->closing) {
    /* closed while connecting (the agent is stopping): nobody waits for the socket */
    if (!err)
      transport_vm_close_socket(r->sock);
    conn_release(c);
    free(r);
    return;
  }
  if (!err && (err = uv_tcp_open(&c->h.tcp, r->sock)))
    transport_vm_close_socket(r->sock);
  if (!err)
    describe_peer(c, &r->uri);
  r->cb(c, err);
  conn_release(c);
  free(r);
}

int transport_connect(struct conn *c, const struct uri *uri, transport_connect_cb cb) {
  return transport_connect_tls(c, uri, NULL, cb);
}

int transport_connect_tls(struct conn *c, const struct uri *uri, const struct tls_identity *id,
                          transport_connect_cb cb) {
  if ((uri->kind == URI_TLS) != (id != NULL))
    return UV_EINVAL;
  struct connect_req *r = calloc(1, sizeof *r);
  if (!r)
    return UV_ENOMEM;
  r->c = c;
  r->uri = *uri;
  r->cb = cb;
  r->tls = id;
  int err = 0;
  struct sockaddr_storage ss;
  switch (uri->kind) {
  case URI_UNIX:
    r->u.connect.data = r;
    uv_pipe_connect(&r->u.connect, &c->h.pipe, uri->path, on_stream_connected);
    return 0;
  case URI_TCP:
  case URI_TLS:
    r->u.connect.data = r;
    if (!(err = tcp_address(uri, &ss)))
      err = uv_tcp_connect(&r->u.connect, &c->h.tcp, (struct sockaddr *)&ss, on_stream_connected);
    break;
  case URI_VSOCK:
  case URI_HVSOCK:
    r->u.work.data = r;
    err = transport_vm_supported(uri) ? 0 : UV_ENOTSUP;
    if (!err)
      err = uv_queue_work(c->h.handle.loop, &r->u.work, vm_connect_work, vm_connect_done);
    if (!err)
      conn_hold(c); /* the job points at c until vm_connect_done */
    break;
  }
  if (err)
    free(r);
  return err;
}
