/*
 * The platform half of transport.c: local endpoints (Unix sockets or named pipes) and the VM
 * sockets (vsock on Linux, Hyper-V sockets on Windows). transport-posix.c, transport-win.c.
 */
#ifndef GPUPV_NET_TRANSPORT_PLATFORM_H
#define GPUPV_NET_TRANSPORT_PLATFORM_H

#include "net/transport.h"

/* Before binding a local endpoint: checks the path and clears what a dead process left. */
int transport_local_prepare(const struct uri *uri);
/* After binding: restricts who may connect (mode on POSIX; Administrators and SYSTEM on
 * Windows). */
int transport_local_restrict(struct listener *l, int unix_mode);
/* After closing: removes what the endpoint left behind. */
void transport_local_closed(const struct uri *uri);

/* Whether this platform has the VM socket kind of uri (vsock or hvsock). */
int transport_vm_supported(const struct uri *uri);
/* Listens on a VM socket; on success the listener hands connections to on_vm_socket. */
int transport_vm_listen(struct listener *l, uv_loop_t *loop);
/* Stops a VM socket listener; returns 1 when it was one (and l->on_closed will run). */
int transport_vm_close(struct listener *l);
/* Connects a VM socket; blocks (runs on the thread pool). */
int transport_vm_connect(const struct uri *uri, uv_os_sock_t *ret);
void transport_vm_close_socket(uv_os_sock_t sock);
/* Fills c->peer and c->peer_id for a connected VM socket. */
void transport_vm_describe(struct conn *c, uv_os_sock_t sock);

/* Starts accepting on l->h.tcp, which the platform opened on a listening VM socket. */
int transport_listen_stream(struct listener *l);
/* Called by the platform with each accepted VM socket, on the loop thread. */
void transport_adopt_accepted(struct listener *l, uv_os_sock_t sock);

#endif
