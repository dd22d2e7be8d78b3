/* Transport addresses: unix:PATH (or just an absolute PATH), pipe:NAME (a Windows named pipe,
 * \\.\pipe\NAME, kind URI_UNIX), tcp://HOST:PORT, tls://HOST:PORT (TCP inside TLS 1.3),
 * vsock://CID:PORT, hvsock://VM:SERVICE. */
#ifndef GPUPV_NET_URI_H
#define GPUPV_NET_URI_H

#include <stdint.h>

enum uri_kind { URI_UNIX, URI_TCP, URI_VSOCK, URI_HVSOCK, URI_TLS };

#define URI_VSOCK_CID_ANY 0xffffffffu

struct uri {
  enum uri_kind kind;
  char path[108];   /* unix socket path or \\.\pipe\NAME */
  char host[64];    /* tcp, tls: numeric address; hvsock: "parent", "*" or a VM GUID */
  uint32_t port;    /* tcp, tls, vsock and hvsock (when the service is a port) */
  uint32_t cid;     /* vsock; URI_VSOCK_CID_ANY for "any" or "-1" */
  char service[40]; /* hvsock: the service GUID as given, or empty when it is a port */
  char text[160];   /* the URI as given */
};

/* Parses text; returns 0, or GPUPV_EURI with *ret_reason naming the problem. */
int uri_parse(const char *text, struct uri *ret, const char **ret_reason);

#endif
