#include "host-agent/http.h"

#include "common/err.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define HTTP_CONNECTIONS_MAX 512
#define HTTP_CONNECTION_MEMORY (64 * 1024) /* caps headers: a bigger request gets 431 */
#define HTTP_TIMEOUT_SECONDS 30

struct http_server {
  struct MHD_Daemon *daemon;
  uv_mutex_t lock; /* guards the snapshot */
  char *status_json;
  char *metrics;
  int port;
};

/* Copies a snapshot string under the lock. */
static char *snapshot(struct http_server *s, char *const *field) {
  uv_mutex_lock(&s->lock);
  char *copy = *field ? strdup(*field) : NULL;
  uv_mutex_unlock(&s->lock);
  return copy;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type,
                             char *body /* taken */) {
  struct MHD_Response *r =
      MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
  if (!r) {
    free(body);
    return MHD_NO;
  }
  MHD_add_response_header(r, "Content-Type", type);
  MHD_add_response_header(r, "Cache-Control", "no-store");
  MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
  enum MHD_Result ret = MHD_queue_response(c, code, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned code, const char *text) {
  char *body = strdup(text);
  return body ? reply(c, code, "text/plain; charset=utf-8", body) : MHD_NO;
}

static enum MHD_Result on_request(void *ctx, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **state) {
  (void)version, (void)upload_data;
  struct http_server *s = ctx;
  if (!*state) { /* first call: headers only */
    *state = s;
    return MHD_YES;
  }
  if (*upload_size) {
    *upload_size = 0; /* no endpoint takes a body yet; drop it */
    return MHD_YES;
  }
  if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
    return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
  char *body;
  if (strcmp(url, "/api/status") == 0) {
    if (!(body = snapshot(s, &s->status_json)))
      return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "starting\n");
    return reply(c, MHD_HTTP_OK, "application/json", body);
  }
  if (strcmp(url, "/metrics") == 0) {
    if (!(body = snapshot(s, &s->metrics)))
      return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "starting\n");
    return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body);
  }
  return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

static int parse_addr(const char *text, struct sockaddr_storage *ret) {
  char host[64];
  const char *colon = strrchr(text, ':');
  if (!colon || (size_t)(colon - text) >= sizeof host)
    return GPUPV_EURI;
  size_t n = (size_t)(colon - text);
  memcpy(host, text, n);
  host[n] = 0;
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (*end || port < 0 || port > 65535 || colon[1] == 0)
    return GPUPV_EURI;
  memset(ret, 0, sizeof *ret);
  if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
    host[n - 1] = 0;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ret;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    return inet_pton(AF_INET6, host + 1, &in6->sin6_addr) == 1 ? 0 : GPUPV_EURI;
  }
  struct sockaddr_in *in = (struct sockaddr_in *)ret;
  in->sin_family = AF_INET;
  in->sin_port = htons((uint16_t)port);
  return inet_pton(AF_INET, host, &in->sin_addr) == 1 ? 0 : GPUPV_EURI;
}

int http_start(const char *addr, struct http_server **ret, char *err, size_t err_size) {
  struct sockaddr_storage ss;
  if (parse_addr(addr, &ss)) {
    snprintf(err, err_size, "--http %s: expected ADDRESS:PORT, like 127.0.0.1:8080", addr);
    return GPUPV_EURI;
  }
  struct http_server *s = calloc(1, sizeof *s);
  if (!s)
    return UV_ENOMEM;
  uv_mutex_init(&s->lock);
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
  if (ss.ss_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
                               (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
                               (unsigned)HTTP_CONNECTIONS_MAX, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                               (size_t)HTTP_CONNECTION_MEMORY, MHD_OPTION_CONNECTION_TIMEOUT,
                               (unsigned)HTTP_TIMEOUT_SECONDS, MHD_OPTION_END);
  if (!s->daemon) {
    snprintf(err, err_size, "--http %s: cannot listen there (in use, or not a local address?)",
             addr);
    uv_mutex_destroy(&s->lock);
    free(s);
    return UV_EADDRINUSE;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
  s->port = info ? info->port : 0;
  *ret = s;
  return 0;
}

void http_publish(struct http_server *s, const char *status_json, const char *metrics) {
  char *a = strdup(status_json), *b = strdup(metrics);
  uv_mutex_lock(&s->lock);
  free(s->status_json);
  free(s->metrics);
  s->status_json = a;
  s->metrics = b;
  uv_mutex_unlock(&s->lock);
}

int http_port(const struct http_server *s) {
  return s->port;
}

void http_stop(struct http_server *s) {
  if (!s)
    return;
  MHD_stop_daemon(s->daemon);
  uv_mutex_destroy(&s->lock);
  free(s->status_json);
  free(s->metrics);
  free(s);
}
