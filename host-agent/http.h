/*
 * The host agent's HTTP server (libmicrohttpd, a thread per connection): the dashboard page,
 * /api/status, /metrics, server-sent events on /events and POST /api/push. Handlers never touch
 * agent state: they serve the last snapshot the loop thread published, and a push request is
 * handed to the loop through a uv_async_t.
 */
#ifndef GPUPV_HOST_HTTP_H
#define GPUPV_HOST_HTTP_H

#include <uv.h>

struct http_server;

/* Runs on the loop thread for each accepted POST /api/push; guest is NULL for all guests. */
typedef void (*http_push_cb)(void *ctx, const char *guest);
/* Runs on the loop thread when a request wants a fresh snapshot: call http_publish. */
typedef void (*http_refresh_cb)(void *ctx);

/*
 * Listens on addr ("127.0.0.1:9731", "[::1]:9731", port 0 for any); *ret is new. One line in
 * err on failure.
 */
int http_start(uv_loop_t *loop, const char *addr, http_push_cb on_push, http_refresh_cb on_refresh,
               void *ctx, struct http_server **ret, char *err, size_t err_size);
/* Replaces the snapshot (copies both strings) and wakes /events subscribers. Loop thread. */
void http_publish(struct http_server *s, const char *status_json, const char *metrics);
/* A one-time login secret for /login?token=SECRET (valid 10 minutes); ret_secret holds 64 hex
 * digits. Any thread. */
int http_new_login(struct http_server *s, char ret_secret[65]);
/* The agent's state changed: the next request asks the loop for a fresh snapshot first. */
void http_mark_stale(struct http_server *s);
/* The port actually bound (useful with port 0). */
int http_port(const struct http_server *s);
/* Stops the server (ending every /events stream) and frees it; the async handle closes on the
 * loop, so run the loop afterwards. */
void http_stop(struct http_server *s);

#endif
