/*
 * Transport pieces for Windows (transport-platform.h): named pipes for local endpoints and
 * Hyper-V sockets (AF_HYPERV) for guests.
 *
 * libuv cannot adopt a listening AF_HYPERV socket (it needs AcceptEx, which Hyper-V sockets
 * lack), so a dedicated thread accepts and hands each connected socket to the loop, where
 * uv_tcp_open adopts it like any stream socket.
 */
#include "common/err.h"
#include "common/log.h"
#include "net/service-id.h"
#include "net/transport-platform.h"

/* winsock2.h comes with uv.h */
#include <aclapi.h>
#include <hvsocket.h>
#include <sddl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#define HVSOCK_CONNECT_TIMEOUT_MS 10000
#define HVSOCK_BUFFER_SIZE (256 * 1024)
/* Administrators and SYSTEM only, not inherited from the parent */
#define CONTROL_PIPE_SDDL L"D:P(A;;GA;;;SY)(A;;GA;;;BA)"

_Static_assert(sizeof(struct hv_address) == sizeof(SOCKADDR_HV), "SOCKADDR_HV layout");

static int wsa_err(void) {
  return uv_translate_sys_error(WSAGetLastError());
}

int transport_local_prepare(const struct uri *uri) {
  /* only named pipes; a second server on the same name fails in uv_pipe_bind */
  return strncmp(uri->path, "\\\\.\\pipe\\", 9) == 0 ? 0 : GPUPV_EURI;
}

int transport_local_restrict(struct listener *l, int unix_mode) {
  (void)unix_mode;
  /* libuv made the first pipe instance; its DACL is the pipe's. The default one already
   * denies write access to everyone but SYSTEM, Administrators and the owner. */
  HANDLE pipe = l->h.pipe.pipe.serv.accept_reqs[0].pipeHandle;
  PSECURITY_DESCRIPTOR sd = NULL;
  PACL dacl = NULL;
  BOOL present = FALSE, defaulted = FALSE;
  if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(CONTROL_PIPE_SDDL, SDDL_REVISION_1, &sd,
                                                            NULL) ||
      !GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted)) {
    int err = uv_translate_sys_error((int)GetLastError());
    LocalFree(sd);
    return err;
  }
  DWORD rc = SetSecurityInfo(pipe, SE_KERNEL_OBJECT,
                             DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION, NULL,
                             NULL, dacl, NULL);
  LocalFree(sd);
  if (rc != ERROR_SUCCESS)
    log_warn("%s: cannot restrict the pipe to Administrators and SYSTEM (error %lu)", l->uri.text,
             (unsigned long)rc);
  return 0;
}

void transport_local_closed(const struct uri *uri) {
  (void)uri; /* a named pipe vanishes with its last handle */
}

int transport_vm_supported(const struct uri *uri) {
  return uri->kind == URI_HVSOCK;
}

static int hv_socket(SOCKET *ret) {
  SOCKET s = WSASocketW(HV_AF_HYPERV, SOCK_STREAM, HV_PROTOCOL_RAW, NULL, 0,
                        WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (s == INVALID_SOCKET)
    return wsa_err();
  *ret = s;
  return 0;
}

/* The accept thread's state: the loop owns it; the thread shares ready, failed and closing
 * under the lock, and wakes the loop to adopt what it accepted. */
struct hv_acceptor {
  struct listener *l;
  SOCKET listen_sock; /* the thread only accepts on it; the loop closes it */
  uv_thread_t thread;
  uv_async_t wake;
  uv_mutex_t lock;
  SOCKET *ready; /* accepted, not yet adopted */
  size_t nready, cap;
  int failed;  /* the last accept() error, not yet reported */
  int closing; /* set before the listening socket is closed */
};

/* Makes room in the ready queue; called with the lock held. */
static int grow_ready(struct hv_acceptor *a) {
  size_t cap = a->cap ? a->cap * 2 : 8;
  SOCKET *grown = realloc(a->ready, cap * sizeof *grown);
  if (!grown)
    return 0;
  a->ready = grown;
  a->cap = cap;
  return 1;
}

/* Keeps a full queue or a failing accept() from spinning. */
#define ACCEPT_RETRY_MS 100

static void accept_thread(void *arg) {
  struct hv_acceptor *a = arg;
  for (;;) {
    SOCKET s = accept(a->listen_sock, NULL, NULL);
    int error = s == INVALID_SOCKET ? WSAGetLastError() : 0;
    uv_mutex_lock(&a->lock);
    if (a->closing) {
      uv_mutex_unlock(&a->lock);
      if (s != INVALID_SOCKET)
        closesocket(s);
      return; /* closesocket() in transport_vm_close ended the wait */
    }
    int queued = 0;
    if (s == INVALID_SOCKET) {
      a->failed = error; /* reported on the loop; accepting goes on */
    } else if (a->nready < a->cap || grow_ready(a)) {
      a->ready[a->nready++] = s;
      queued = 1;
    }
    uv_mutex_unlock(&a->lock);
    if (s != INVALID_SOCKET && !queued)
      closesocket(s);
    uv_async_send(&a->wake);
    if (!queued)
      Sleep(ACCEPT_RETRY_MS);
  }
}

static void on_accepted(uv_async_t *wake) {
  struct hv_acceptor *a = wake->data;
  uv_mutex_lock(&a->lock);
  size_t n = a->nready;
  SOCKET *ready = a->ready;
  int failed = a->failed;
  a->ready = NULL;
  a->nready = a->cap = 0;
  a->failed = 0;
  uv_mutex_unlock(&a->lock);
  for (size_t i = 0; i < n; i++)
    transport_adopt_accepted(a->l, ready[i]);
  free(ready);
  if (failed)
    log_warn("%s: accept: %s", a->l->uri.text, uv_strerror(uv_translate_sys_error(failed)));
}

static void free_acceptor(uv_handle_t *wake) {
  free(wake->data);
}

int transport_vm_listen(struct listener *l, uv_loop_t *loop) {
  struct hv_address addr;
  int err = hv_address_from_uri(&l->uri, &addr);
  if (err)
    return err;
  struct hv_acceptor *a = calloc(1, sizeof *a);
  if (!a)
    return UV_ENOMEM;
  a->l = l;
  if ((err = hv_socket(&a->listen_sock))) {
    free(a);
    return err;
  }
  if (bind(a->listen_sock, (const struct sockaddr *)&addr, sizeof addr) != 0 ||
      listen(a->listen_sock, 64) != 0) {
    err = wsa_err();
    closesocket(a->listen_sock);
    free(a);
    return err;
  }
  uv_mutex_init(&a->lock);
  uv_async_init(loop, &a->wake, on_accepted);
  a->wake.data = a;
  if ((err = uv_thread_create(&a->thread, accept_thread, a))) {
    closesocket(a->listen_sock);
    uv_mutex_destroy(&a->lock);
    uv_close((uv_handle_t *)&a->wake, free_acceptor);
    return err;
  }
  l->platform = a;
  return 0;
}

static void on_acceptor_closed(uv_handle_t *h) {
  struct hv_acceptor *a = h->data;
  struct listener *l = a->l;
  for (size_t i = 0; i < a->nready; i++)
    closesocket(a->ready[i]);
  free(a->ready);
  uv_mutex_destroy(&a->lock);
  free(a);
  l->platform = NULL;
  if (l->on_closed)
    l->on_closed(l);
}

int transport_vm_close(struct listener *l) {
  struct hv_acceptor *a = l->platform;
  if (!a)
    return 0;
  uv_mutex_lock(&a->lock);
  a->closing = 1;
  uv_mutex_unlock(&a->lock);
  closesocket(a->listen_sock); /* wakes accept() with an error */
  uv_thread_join(&a->thread);
  uv_close((uv_handle_t *)&a->wake, on_acceptor_closed);
  return 1;
}

int transport_vm_connect(const struct uri *uri, uv_os_sock_t *ret) {
  struct hv_address addr;
  SOCKET s = INVALID_SOCKET;
  int err = hv_address_from_uri(uri, &addr);
  if (err || (err = hv_socket(&s)))
    return err;
  DWORD timeout = HVSOCK_CONNECT_TIMEOUT_MS;
  int size = HVSOCK_BUFFER_SIZE;
  setsockopt(s, HV_PROTOCOL_RAW, HVSOCKET_CONNECT_TIMEOUT, (const char *)&timeout, sizeof timeout);
  setsockopt(s, SOL_SOCKET, SO_SNDBUF, (const char *)&size, sizeof size);
  setsockopt(s, SOL_SOCKET, SO_RCVBUF, (const char *)&size, sizeof size);
  if (connect(s, (const struct sockaddr *)&addr, sizeof addr) != 0) {
    err = wsa_err();
    closesocket(s);
    return err;
  }
  *ret = s;
  return 0;
}

void transport_vm_close_socket(uv_os_sock_t sock) {
  closesocket(sock);
}

void transport_vm_describe(struct conn *c, uv_os_sock_t sock) {
  struct hv_address peer;
  int len = sizeof peer;
  if (getpeername(sock, (struct sockaddr *)&peer, &len) != 0 || peer.family != HV_AF_HYPERV)
    return;
  hv_address_peer_id(&peer, c->peer_id, sizeof c->peer_id);
  snprintf(c->peer, sizeof c->peer, "%s", c->peer_id);
}
