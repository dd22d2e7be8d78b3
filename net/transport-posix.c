/* Transport pieces for Linux: Unix socket files and AF_VSOCK (transport-platform.h). */
#include "common/err.h"
#include "net/transport-platform.h"

#include <errno.h>
#include <linux/vm_sockets.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define VSOCK_BUFFER_SIZE (256 * 1024)

static int sys_err(void) {
  return uv_translate_sys_error(errno);
}

/* Removes a Unix socket file nobody answers on; refuses one that is in use. */
int transport_local_prepare(const struct uri *uri) {
  struct stat st;
  if (uri->path[0] != '/')
    return GPUPV_EURI; /* pipe: names are Windows-only */
  if (lstat(uri->path, &st) != 0)
    return 0;
  if (!S_ISSOCK(st.st_mode))
    return UV_EEXIST;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return sys_err();
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  snprintf(sun.sun_path, sizeof sun.sun_path, "%s", uri->path);
  int rc = connect(fd, (struct sockaddr *)&sun, sizeof sun);
  int connect_errno = errno;
  close(fd);
  if (rc == 0)
    return UV_EADDRINUSE;
  if (connect_errno != ECONNREFUSED)
    return uv_translate_sys_error(connect_errno);
  return unlink(uri->path) == 0 ? 0 : sys_err();
}

int transport_local_restrict(struct listener *l, int unix_mode) {
  if (unix_mode && chmod(l->uri.path, (mode_t)unix_mode) != 0)
    return sys_err();
  return 0;
}

void transport_local_closed(const struct uri *uri) {
  unlink(uri->path);
}

int transport_vm_supported(const struct uri *uri) {
  return uri->kind == URI_VSOCK;
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

int transport_vm_listen(struct listener *l, uv_loop_t *loop) {
  int fd = -1, err = transport_vsock_check(&l->uri);
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
  if ((err = uv_tcp_open(&l->h.tcp, fd))) {
    uv_close(&l->h.handle, NULL);
    return err;
  }
  return transport_listen_stream(l);
}

int transport_vm_close(struct listener *l) {
  (void)l; /* vsock listeners are libuv handles */
  return 0;
}

int transport_vm_connect(const struct uri *uri, uv_os_sock_t *ret) {
  int fd = -1, err = transport_vsock_check(uri);
  if (err || (err = vsock_socket(&fd)))
    return err;
  struct sockaddr_vm vm;
  vsock_address(uri, &vm);
  if (connect(fd, (struct sockaddr *)&vm, sizeof vm) != 0) {
    err = sys_err();
    close(fd);
    return err;
  }
  *ret = fd;
  return 0;
}

void transport_vm_close_socket(uv_os_sock_t sock) {
  close(sock);
}

void transport_vm_describe(struct conn *c, uv_os_sock_t sock) {
  struct sockaddr_vm vm;
  socklen_t len = sizeof vm;
  if (getpeername(sock, (struct sockaddr *)&vm, &len) == 0) {
    snprintf(c->peer_id, sizeof c->peer_id, "vsock:%u", vm.svm_cid);
    snprintf(c->peer, sizeof c->peer, "vsock:%u:%u", vm.svm_cid, vm.svm_port);
  }
}
