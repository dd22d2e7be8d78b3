#include "net/transport.h"

#include "common/err.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define VSOCK_BUFFER_SIZE (256 * 1024)

static int sys_err(void) {
  return uv_translate_sys_error(errno);
}

static void describe_peer(struct conn *c, const struct uri *uri) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  char addr[INET6_ADDRSTRLEN] = "?";
  switch (uri->kind) {
  case URI_UNIX:
    snprintf(c->peer, sizeof c->peer, "unix:%s", uri->path);
    break;
  case URI_TCP:
    if (uv_tcp_getpeername(&c->h.tcp, (struct sockaddr *)&ss, &len) == 0) {
      int port = 0;
      if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        uv_ip4_name(in, addr, sizeof addr);
        port = ntohs(in->sin_port);
      } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        uv_ip6_name(in6, addr, sizeof addr);
        port = ntohs(in6->sin6_port);
      }
      snprintf(c->peer, sizeof c->peer, "tcp:%s:%d", addr, port);
    }
    break;
  case URI_VSOCK: {
    uv_os_fd_t fd;
    struct sockaddr_vm vm;
    socklen_t vlen = sizeof vm;
    if (uv_fileno(&c->h.handle, &fd) == 0 && getpeername(fd, (struct sockaddr *)&vm, &vlen) == 0) {
      snprintf(c->peer_id, sizeof c->peer_id, "vsock:%u", vm.svm_cid);
      snprintf(c->peer, sizeof c->peer, "vsock:%u:%u", vm.svm_cid, vm.svm_port);
    }
    break;
  }
  case URI_HVSOCK:
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
  l->on_accept(l, c);
}

/* Removes a Unix socket file nobody answers on; refuses one that is in use. */
static int clear_stale_socket(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0)
    return 0;
  if (!S_ISSOCK(st.st_mode))
    return UV_EEXIST;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return sys_err();
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
  int rc = connect(fd, (struct sockaddr *)&sun, sizeof sun);
  int connect_errno = errno;
  close(fd);
  if (rc == 0)
    return UV_EADDRINUSE;
  if (connect_errno != ECONNREFUSED)
    return uv_translate_sys_error(connect_errno);
  return unlink(path) == 0 ? 0 : sys_err();
}

static int tcp_address(const struct uri *uri, struct sockaddr_storage *ret) {
  if (uv_ip4_addr(uri->host, (int)uri->port, (struct sockaddr_in *)ret) == 0) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)ret;
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127 ? 0 : GPUPV_EURI;
  }
  if (uv_ip6_addr(uri->host, (int)uri->port, (struct sockaddr_in6 *)ret) == 0) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ret;
    return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ? 0 : GPUPV_EURI;
  }
  return GPUPV_EURI;
}

int transport_vsock_check(const struct uri *uri) {
  return uri->kind == URI_VSOCK && uri->port <= 0x7fffffff ? 0 : GPUPV_EURI;
}

static void vsock_address(const struct uri *uri, struct sockaddr_vm *ret) {
  memset(ret, 0, sizeof *ret);
  ret->svm_family = AF_VSOCK;
  ret->svm_cid = uri->cid == URI_VSOCK_CID_ANY ? VMADDR_CID_ANY : uri->cid;
  ret->svm_port = uri->port;
}

static int vsock_socket(int *ret_fd) {
  int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return sys_err();
  /* hv_sock is much faster with large buffers, and they must be set before connecting. */
  int size = VSOCK_BUFFER_SIZE;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  *ret_fd = fd;
  return 0;
}

static int listen_vsock(struct listener *l, uv_loop_t *loop) {
  int fd, err = transport_vsock_check(&l->uri);
  if (err || (err = vsock_socket(&fd)))
    return err;
  struct sockaddr_vm vm;
  vsock_address(&l->uri, &vm);
  if (bind(fd, (struct sockaddr *)&vm, sizeof vm) != 0 || listen(fd, 64) != 0) {
    err = sys_err();
    close(fd);
    return err;
  }
  if ((err = uv_tcp_init(loop, &l->h.tcp))) {
    close(fd);
    return err;
  }
  /* libuv adopts the listening socket and accepts on it like TCP. */
  return uv_tcp_open(&l->h.tcp, fd);
}

int listener_start(struct listener *l, uv_loop_t *loop, const struct uri *uri, int unix_mode,
                   const struct conn_ops *conn_ops, void *owner, listener_accept_cb on_accept) {
  memset(l, 0, sizeof *l);
  l->uri = *uri;
  l->conn_ops = conn_ops;
  l->owner = owner;
  l->on_accept = on_accept;
  int err = 0;
  struct sockaddr_storage ss;
  switch (uri->kind) {
  case URI_UNIX:
    if ((err = clear_stale_socket(uri->path)))
      return err;
    if ((err = uv_pipe_init(loop, &l->h.pipe, 0)))
      return err;
    err = uv_pipe_bind(&l->h.pipe, uri->path);
    if (!err && unix_mode && chmod(uri->path, (mode_t)unix_mode) != 0)
      err = sys_err();
    break;
  case URI_TCP:
    if ((err = tcp_address(uri, &ss)))
      return err;
    if ((err = uv_tcp_init(loop, &l->h.tcp)))
      return err;
    err = uv_tcp_bind(&l->h.tcp, (struct sockaddr *)&ss, 0);
    break;
  case URI_VSOCK:
    if ((err = listen_vsock(l, loop)))
      return err;
    break;
  case URI_HVSOCK:
    return UV_ENOTSUP;
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

static void on_listener_closed(uv_handle_t *h) {
  struct listener *l = h->data;
  if (l->uri.kind == URI_UNIX)
    unlink(l->uri.path);
  if (l->on_closed)
    l->on_closed(l);
}

void listener_close(struct listener *l, void (*on_closed)(struct listener *l)) {
  l->on_closed = on_closed;
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
  int fd, err;
};

static void on_stream_connected(uv_connect_t *req, int status) {
  struct connect_req *r = req->data;
  if (!status)
    describe_peer(r->c, &r->uri);
  r->cb(r->c, status);
  free(r);
}

/* vsock connect() blocks, so it runs on the thread pool and the loop adopts the socket. */
static void vsock_connect_work(uv_work_t *work) {
  struct connect_req *r = work->data;
  struct sockaddr_vm vm;
  vsock_address(&r->uri, &vm);
  if ((r->err = vsock_socket(&r->fd)))
    return;
  if (connect(r->fd, (struct sockaddr *)&vm, sizeof vm) != 0) {
    r->err = sys_err();
    close(r->fd);
    r->fd = -1;
  }
}

static void vsock_connect_done(uv_work_t *work, int status) {
  struct connect_req *r = work->data;
  int err = status ? status : r->err;
  if (!err && (err = uv_tcp_open(&r->c->h.tcp, r->fd)))
    close(r->fd);
  if (!err)
    describe_peer(r->c, &r->uri);
  r->cb(r->c, err);
  free(r);
}

int transport_connect(struct conn *c, const struct uri *uri, transport_connect_cb cb) {
  struct connect_req *r = calloc(1, sizeof *r);
  if (!r)
    return UV_ENOMEM;
  r->c = c;
  r->uri = *uri;
  r->cb = cb;
  r->fd = -1;
  int err = 0;
  struct sockaddr_storage ss;
  switch (uri->kind) {
  case URI_UNIX:
    r->u.connect.data = r;
    uv_pipe_connect(&r->u.connect, &c->h.pipe, uri->path, on_stream_connected);
    return 0;
  case URI_TCP:
    r->u.connect.data = r;
    if (!(err = tcp_address(uri, &ss)))
      err = uv_tcp_connect(&r->u.connect, &c->h.tcp, (struct sockaddr *)&ss, on_stream_connected);
    break;
  case URI_VSOCK:
    r->u.work.data = r;
    if (!(err = transport_vsock_check(uri)))
      err = uv_queue_work(c->h.handle.loop, &r->u.work, vsock_connect_work, vsock_connect_done);
    break;
  case URI_HVSOCK:
    err = UV_ENOTSUP;
    break;
  }
  if (err)
    free(r);
  return err;
}
