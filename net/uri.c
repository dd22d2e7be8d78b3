#include "net/uri.h"

#include "common/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_u32(const char *s, uint32_t max, uint32_t *ret) {
  char *end;
  if (!*s || *s == '-' || *s == '+')
    return -1;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno || *end || v > max)
    return -1;
  *ret = (uint32_t)v;
  return 0;
}

/* Splits "HOST:PORT" at the last colon, allowing "[v6]:PORT". */
static int split_host_port(const char *rest, char *host, size_t host_size, const char **port) {
  const char *colon = strrchr(rest, ':');
  if (!colon)
    return -1;
  const char *h = rest;
  size_t hlen = (size_t)(colon - rest);
  if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']')
    h++, hlen -= 2;
  if (hlen == 0 || hlen >= host_size)
    return -1;
  memcpy(host, h, hlen);
  host[hlen] = 0;
  *port = colon + 1;
  return 0;
}

int uri_parse(const char *text, struct uri *ret, const char **ret_reason) {
  struct uri u;
  const char *reason = NULL;
  const char *port;
  memset(&u, 0, sizeof u);
  if (strlen(text) >= sizeof u.text) {
    reason = "too long";
    goto out;
  }
  strcpy(u.text, text);
  if (strncmp(text, "unix:", 5) == 0 || text[0] == '/') {
    u.kind = URI_UNIX;
    const char *p = text[0] == '/' ? text : text + 5;
    if (strncmp(p, "//", 2) == 0)
      p += 2;
    if (!*p)
      reason = "unix: needs a socket path";
    else if (strlen(p) >= sizeof u.path)
      reason = "socket path longer than 107 bytes";
    else
      strcpy(u.path, p);
  } else if (strncmp(text, "pipe:", 5) == 0) {
    /* a Windows named pipe; the same kind as unix:, served by uv_pipe */
    u.kind = URI_UNIX;
    const char *name = text + 5;
    if (!*name || strpbrk(name, "\\/"))
      reason = "pipe: needs a name without slashes";
    else if (strlen(name) + 9 >= sizeof u.path)
      reason = "pipe name too long";
    else
      snprintf(u.path, sizeof u.path, "\\\\.\\pipe\\%s", name);
  } else if (strncmp(text, "tcp://", 6) == 0 || strncmp(text, "tls://", 6) == 0) {
    u.kind = text[1] == 'c' ? URI_TCP : URI_TLS;
    if (split_host_port(text + 6, u.host, sizeof u.host, &port) || parse_u32(port, 65535, &u.port))
      reason = u.kind == URI_TCP ? "expected tcp://HOST:PORT with a numeric port"
                                 : "expected tls://HOST:PORT with a numeric port";
  } else if (strncmp(text, "vsock://", 8) == 0) {
    u.kind = URI_VSOCK;
    char cid[32];
    if (split_host_port(text + 8, cid, sizeof cid, &port) || parse_u32(port, 0x7fffffff, &u.port))
      reason = "expected vsock://CID:PORT with a port up to 0x7fffffff";
    else if (strcmp(cid, "any") == 0 || strcmp(cid, "-1") == 0 || strcmp(cid, "*") == 0)
      u.cid = URI_VSOCK_CID_ANY;
    else if (parse_u32(cid, 0xfffffffe, &u.cid))
      reason = "vsock CID must be a number, 'any' or -1";
  } else if (strncmp(text, "hvsock://", 9) == 0) {
    u.kind = URI_HVSOCK;
    if (split_host_port(text + 9, u.host, sizeof u.host, &port))
      reason = "expected hvsock://VM:SERVICE";
    else if (strlen(port) == 36)
      strcpy(u.service, port);
    else if (parse_u32(port, 0x7fffffff, &u.port))
      reason = "hvsock service must be a port up to 0x7fffffff or a GUID";
  } else {
    reason = "unknown scheme (use unix:, pipe:, tcp://, tls://, vsock:// or hvsock://)";
  }
out:
  if (reason) {
    if (ret_reason)
      *ret_reason = reason;
    return GPUPV_EURI;
  }
  *ret = u;
  return 0;
}
