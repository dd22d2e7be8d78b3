/*
 * The host agent's HTTP server (libmicrohttpd, on its own thread): /api/status and /metrics.
 * Handlers never touch agent state: they serve the last snapshot the loop thread published.
 */
#ifndef GPUPV_HOST_HTTP_H
#define GPUPV_HOST_HTTP_H

#include <uv.h>

struct http_server;

/* Listens on addr ("127.0.0.1:8080", "[::1]:8080"); *ret is new. One line in err on failure. */
int http_start(const char *addr, struct http_server **ret, char *err, size_t err_size);
/* Replaces the snapshot (copies both strings). Loop thread. */
void http_publish(struct http_server *s, const char *status_json, const char *metrics);
/* The port actually bound (useful with port 0). */
int http_port(const struct http_server *s);
void http_stop(struct http_server *s);

#endif
