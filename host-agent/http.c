#include "host-agent/http.h"

#include "common/err.h"
#include "common/log.h"

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>
/* after uv.h, which brings the platform's socket headers that microhttpd.h expects */
#include <microhttpd.h>

#define HTTP_CONNECTIONS_MAX 512
#define HTTP_CONNECTION_MEMORY (64 * 1024) /* caps headers: a bigger request is refused */
#define HTTP_TIMEOUT_SECONDS 30
#define HTTP_THREAD_STACK (256 * 1024)
#define HTTP_BODY_MAX 4096
#define HTTP_KEEPALIVE_MS 15000
#define HTTP_PUSH_QUEUE_MAX 16
#define HTTP_REFRESH_WAIT_MS 2000
#define HTTP_LOGINS_MAX 8
#define HTTP_LOGIN_TTL_MS (10 * 60 * 1000)
#define HTTP_SESSIONS_MAX 32
#define HTTP_SESSION_TTL_MS (12 * 3600 * 1000)
#define HTTP_COOKIE "gpupv_session"

extern const char gpupv_dashboard_html[];
extern const size_t gpupv_dashboard_html_len;

struct push_request {
  struct push_request *next;
  int all;
  char guest[64];
};

/* A one-time login secret from `gpupv dashboard`, or an administrator's browser session. */
struct secret {
  char hex[65];
  uint64_t expires_ms;
};

struct http_server {
  struct MHD_Daemon *daemon;
  uv_mutex_t lock; /* guards everything below it */
  uv_cond_t changed;
  char *status_json;
  char *metrics;
  uint64_t version; /* bumped by every publish that changed the status */
  int stopping;
  int stale;          /* the loop has newer state than the snapshot */
  int refresh_wanted; /* a request waits for a fresh snapshot */
  struct push_request *pushes;
  size_t npushes;
  /* loop side */
  uv_async_t async;
  http_push_cb on_push;
  http_refresh_cb on_refresh;
  void *ctx;
  char csrf[65];
  int port;
  char bound_host[64]; /* besides loopback names, the address we were told to bind */
  /* under lock */
  struct secret logins[HTTP_LOGINS_MAX];
  struct secret sessions[HTTP_SESSIONS_MAX];
};

/* Per-request state between MHD calls. */
struct request {
  int is_post;
  size_t body_len;
  int body_too_big;
  char body[HTTP_BODY_MAX + 1];
};

/* One /events subscriber. */
struct stream {
  struct http_server *s;
  uint64_t version;
  char *pending;
  size_t off, len;
};

/* A copy of the snapshot's field, made fresh first when the loop marked it stale: a page
 * loaded after a change shows the change. */
static char *snapshot(struct http_server *s, char *const *field) {
  uv_mutex_lock(&s->lock);
  if (s->stale && !s->stopping) {
    s->refresh_wanted = 1;
    uv_async_send(&s->async);
    while (s->stale && !s->stopping)
      if (uv_cond_timedwait(&s->changed, &s->lock, (uint64_t)HTTP_REFRESH_WAIT_MS * 1000000))
        break; /* a busy loop: serve what there is */
  }
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
  MHD_add_response_header(r, "X-Frame-Options", "DENY");
  MHD_add_response_header(r, "Content-Security-Policy",
                          "default-src 'self'; script-src 'unsafe-inline'; style-src "
                          "'unsafe-inline'; frame-ancestors 'none'");
  enum MHD_Result ret = MHD_queue_response(c, code, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned code, const char *text) {
  char *body = strdup(text);
  return body ? reply(c, code, "text/plain; charset=utf-8", body) : MHD_NO;
}

static uint64_t now_ms(void) {
  return uv_hrtime() / 1000000;
}

static int random_hex(char out[65]) {
  uint8_t bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1)
    return UV_EIO;
  for (int i = 0; i < 32; i++)
    sprintf(out + 2 * i, "%02x", bytes[i]);
  return 0;
}

/* Finds hex among the live secrets (constant time per entry); its index, or -1. Under lock. */
static int secret_find(const struct secret *list, size_t n, const char *hex) {
  if (!hex || strlen(hex) != 64)
    return -1;
  uint64_t now = now_ms();
  int hit = -1;
  for (size_t i = 0; i < n; i++)
    if (list[i].expires_ms > now && CRYPTO_memcmp(list[i].hex, hex, 64) == 0)
      hit = (int)i;
  return hit;
}

/* Adds a secret in the first free or expired slot (else the oldest). Under lock. */
static int secret_add(struct secret *list, size_t n, uint64_t ttl_ms, char ret_hex[65]) {
  size_t slot = 0;
  for (size_t i = 0; i < n; i++)
    if (list[i].expires_ms < list[slot].expires_ms)
      slot = i;
  int err = random_hex(list[slot].hex);
  if (err)
    return err;
  list[slot].expires_ms = now_ms() + ttl_ms;
  memcpy(ret_hex, list[slot].hex, 65);
  return 0;
}

static int is_admin(struct http_server *s, struct MHD_Connection *c) {
  const char *cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, HTTP_COOKIE);
  uv_mutex_lock(&s->lock);
  int ok = secret_find(s->sessions, HTTP_SESSIONS_MAX, cookie) >= 0;
  uv_mutex_unlock(&s->lock);
  return ok;
}

/*
 * Only our own names are served: a page on another site that rebinds its DNS name to
 * 127.0.0.1 still sends its own name in Host, and is refused before it can read anything.
 */
static int host_allowed(const struct http_server *s, const char *host) {
  if (!host)
    return 0;
  const char *names[] = {"127.0.0.1", "[::1]", "localhost", s->bound_host};
  char want[96];
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    if (!names[i][0])
      continue;
    snprintf(want, sizeof want, "%s:%d", names[i], s->port);
    /* with our port, or with none (the client's default) */
    if (strcasecmp(host, want) == 0 || strcasecmp(host, names[i]) == 0)
      return 1;
  }
  return 0;
}

/* The page, with its CSRF token and whether this browser may push. */
static enum MHD_Result page(struct http_server *s, struct MHD_Connection *c) {
  const char *csrf_mark = strstr(gpupv_dashboard_html, "@CSRF@");
  const char *admin_mark = strstr(gpupv_dashboard_html, "@ADMIN@");
  size_t n = gpupv_dashboard_html_len + sizeof s->csrf + 8;
  char *body = malloc(n);
  if (!body || !csrf_mark || !admin_mark || admin_mark < csrf_mark) {
    free(body);
    return MHD_NO;
  }
  snprintf(body, n, "%.*s%s%.*s%s%s", (int)(csrf_mark - gpupv_dashboard_html), gpupv_dashboard_html,
           s->csrf, (int)(admin_mark - csrf_mark - 6), csrf_mark + 6, is_admin(s, c) ? "yes" : "no",
           admin_mark + 7);
  return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", body);
}

/* /login?token=SECRET: a one-time secret becomes an HttpOnly, SameSite=Strict session. */
static enum MHD_Result login(struct http_server *s, struct MHD_Connection *c) {
  const char *token = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
  char session[65];
  uv_mutex_lock(&s->lock);
  int hit = secret_find(s->logins, HTTP_LOGINS_MAX, token);
  int err = hit < 0 ? UV_EACCES : 0;
  if (hit >= 0)
    memset(&s->logins[hit], 0, sizeof s->logins[hit]); /* one use */
  if (!err)
    err = secret_add(s->sessions, HTTP_SESSIONS_MAX, HTTP_SESSION_TTL_MS, session);
  uv_mutex_unlock(&s->lock);
  if (err)
    return reply_text(c, MHD_HTTP_FORBIDDEN,
                      "this login link is not valid (used, expired or mistyped); run `gpupv "
                      "dashboard` on the host for a new one\n");
  struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
  if (!r)
    return MHD_NO;
  char cookie[160];
  snprintf(cookie, sizeof cookie, "%s=%s; HttpOnly; SameSite=Strict; Path=/; Max-Age=%d",
           HTTP_COOKIE, session, HTTP_SESSION_TTL_MS / 1000);
  MHD_add_response_header(r, "Set-Cookie", cookie);
  MHD_add_response_header(r, "Location", "/");
  MHD_add_response_header(r, "Cache-Control", "no-store");
  MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
  enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_SEE_OTHER, r);
  MHD_destroy_response(r);
  log_info("dashboard: an administrator logged in");
  return ret;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
  (void)pos;
  struct stream *st = cls;
  struct http_server *s = st->s;
  if (st->off == st->len) {
    free(st->pending);
    st->pending = NULL;
    st->off = st->len = 0;
    uv_mutex_lock(&s->lock);
    int timed_out = 0;
    while (!s->stopping && st->version == s->version && !timed_out)
      timed_out =
          uv_cond_timedwait(&s->changed, &s->lock, (uint64_t)HTTP_KEEPALIVE_MS * 1000000) != 0;
    if (s->stopping) {
      uv_mutex_unlock(&s->lock);
      return MHD_CONTENT_READER_END_OF_STREAM;
    }
    size_t n = s->status_json && st->version != s->version ? strlen(s->status_json) : 0;
    if (n) {
      st->pending = malloc(n + 16);
      if (st->pending)
        st->len = (size_t)sprintf(st->pending, "data: %s\n\n", s->status_json);
      st->version = s->version;
    }
    uv_mutex_unlock(&s->lock);
    if (!st->pending) { /* a comment keeps proxies and the browser from timing out */
      st->pending = strdup(": keepalive\n\n");
      if (!st->pending)
        return MHD_CONTENT_READER_END_WITH_ERROR;
      st->len = strlen(st->pending);
    }
  }
  size_t k = st->len - st->off < max ? st->len - st->off : max;
  memcpy(buf, st->pending + st->off, k);
  st->off += k;
  return (ssize_t)k;
}

static void stream_free(void *cls) {
  struct stream *st = cls;
  free(st->pending);
  free(st);
}

static enum MHD_Result events(struct http_server *s, struct MHD_Connection *c) {
  struct stream *st = calloc(1, sizeof *st);
  if (!st)
    return MHD_NO;
  st->s = s; /* version 0: the first read sends the current snapshot at once */
  struct MHD_Response *r =
      MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, st, stream_free);
  if (!r) {
    free(st);
    return MHD_NO;
  }
  MHD_add_response_header(r, "Content-Type", "text/event-stream");
  MHD_add_response_header(r, "Cache-Control", "no-store");
  enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
  MHD_destroy_response(r);
  return ret;
}

/* A state-changing request must come from our own page (same origin, the page's token) in a
 * browser an administrator logged in with `gpupv dashboard`. */
static const char *refuse_push(struct http_server *s, struct MHD_Connection *c) {
  if (!is_admin(s, c))
    return "pushing needs an administrator: run `gpupv dashboard` on the host and open the "
           "link it prints\n";
  const char *token = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");
  const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
  const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
  if (!token || strlen(token) != 64 || CRYPTO_memcmp(token, s->csrf, 64) != 0)
    return "missing or wrong X-CSRF-Token\n";
  if (origin) {
    char want[300];
    snprintf(want, sizeof want, "http://%s", host ? host : "");
    if (strcmp(origin, want) != 0)
      return "cross-origin request refused\n";
  }
  return NULL;
}

static enum MHD_Result api_push(struct http_server *s, struct MHD_Connection *c,
                                struct request *rq) {
  const char *why = refuse_push(s, c);
  if (why)
    return reply_text(c, MHD_HTTP_FORBIDDEN, why);
  if (rq->body_too_big)
    return reply_text(c, MHD_HTTP_CONTENT_TOO_LARGE, "body too large\n");
  cJSON *body = cJSON_ParseWithLength(rq->body, rq->body_len);
  const cJSON *guest = cJSON_GetObjectItemCaseSensitive(body, "guest");
  int ok = cJSON_IsObject(body) && (cJSON_IsNull(guest) || !guest ||
                                    (cJSON_IsString(guest) && strlen(guest->valuestring) < 64));
  struct push_request *p = ok ? calloc(1, sizeof *p) : NULL;
  if (p) {
    p->all = !cJSON_IsString(guest);
    if (!p->all)
      snprintf(p->guest, sizeof p->guest, "%s", guest->valuestring);
  }
  cJSON_Delete(body);
  if (!ok)
    return reply_text(c, MHD_HTTP_BAD_REQUEST, "expected {\"guest\": NAME or null}\n");
  if (!p)
    return MHD_NO;
  uv_mutex_lock(&s->lock);
  int full = s->npushes >= HTTP_PUSH_QUEUE_MAX;
  if (!full) {
    p->next = s->pushes;
    s->pushes = p;
    s->npushes++;
  }
  uv_mutex_unlock(&s->lock);
  if (full) {
    free(p);
    return reply_text(c, MHD_HTTP_TOO_MANY_REQUESTS, "too many pushes queued\n");
  }
  uv_async_send(&s->async);
  char *text = strdup("{\"ok\":true}\n");
  return text ? reply(c, MHD_HTTP_ACCEPTED, "application/json", text) : MHD_NO;
}

static enum MHD_Result on_request(void *ctx, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **state) {
  (void)version;
  struct http_server *s = ctx;
  struct request *rq = *state;
  if (!rq) { /* first call: headers only */
    if (!host_allowed(s, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host")))
      return reply_text(c, MHD_HTTP_FORBIDDEN,
                        "this dashboard answers only to its own address (127.0.0.1, [::1] or "
                        "localhost, with the port)\n");
    if (!(rq = calloc(1, sizeof *rq)))
      return MHD_NO;
    rq->is_post = strcmp(method, "POST") == 0;
    *state = rq;
    return MHD_YES;
  }
  if (*upload_size) {
    size_t n = *upload_size;
    if (rq->body_len + n > HTTP_BODY_MAX)
      rq->body_too_big = 1;
    else
      memcpy(rq->body + rq->body_len, upload_data, n);
    if (!rq->body_too_big)
      rq->body_len += n;
    *upload_size = 0;
    return MHD_YES;
  }
  if (rq->is_post && strcmp(url, "/api/push") == 0)
    return api_push(s, c, rq);
  if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
    return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
  char *body;
  if (strcmp(url, "/") == 0)
    return page(s, c);
  if (strcmp(url, "/events") == 0)
    return events(s, c);
  if (strcmp(url, "/login") == 0)
    return login(s, c);
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

static void on_completed(void *ctx, struct MHD_Connection *c, void **state,
                         enum MHD_RequestTerminationCode code) {
  (void)ctx, (void)c, (void)code;
  free(*state);
  *state = NULL;
}

static void on_async(uv_async_t *a) {
  struct http_server *s = a->data;
  uv_mutex_lock(&s->lock);
  struct push_request *list = s->pushes;
  s->pushes = NULL;
  s->npushes = 0;
  int refresh = s->refresh_wanted;
  s->refresh_wanted = 0;
  uv_mutex_unlock(&s->lock);
  if (refresh)
    s->on_refresh(s->ctx);
  while (list) {
    struct push_request *next = list->next;
    s->on_push(s->ctx, list->all ? NULL : list->guest);
    free(list);
    list = next;
  }
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
    return uv_ip6_addr(host + 1, (int)port, (struct sockaddr_in6 *)ret) == 0 ? 0 : GPUPV_EURI;
  }
  return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ret) == 0 ? 0 : GPUPV_EURI;
}

int http_start(uv_loop_t *loop, const char *addr, http_push_cb on_push, http_refresh_cb on_refresh,
               void *ctx, struct http_server **ret, char *err, size_t err_size) {
  struct sockaddr_storage ss;
  if (parse_addr(addr, &ss)) {
    snprintf(err, err_size, "--http %s: expected ADDRESS:PORT, like 127.0.0.1:9731", addr);
    return GPUPV_EURI;
  }
  struct http_server *s = calloc(1, sizeof *s);
  if (!s || random_hex(s->csrf)) {
    free(s);
    return UV_ENOMEM;
  }
  s->on_push = on_push;
  s->on_refresh = on_refresh;
  s->ctx = ctx;
  uv_mutex_init(&s->lock);
  uv_cond_init(&s->changed);
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_AUTO |
                   MHD_USE_ERROR_LOG;
  if (ss.ss_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  s->daemon = MHD_start_daemon(
      flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_LIMIT,
      (unsigned)HTTP_CONNECTIONS_MAX, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
      (size_t)HTTP_CONNECTION_MEMORY, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_SECONDS,
      MHD_OPTION_THREAD_STACK_SIZE, (size_t)HTTP_THREAD_STACK, MHD_OPTION_END);
  if (!s->daemon) {
    snprintf(err, err_size, "--http %s: cannot listen there (in use, or not a local address?)",
             addr);
    uv_cond_destroy(&s->changed);
    uv_mutex_destroy(&s->lock);
    free(s);
    return UV_EADDRINUSE;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
  s->port = info ? info->port : 0;
  snprintf(s->bound_host, sizeof s->bound_host, "%.*s", (int)(strrchr(addr, ':') - addr), addr);
  uv_async_init(loop, &s->async, on_async);
  s->async.data = s;
  *ret = s;
  return 0;
}

void http_publish(struct http_server *s, const char *status_json, const char *metrics) {
  char *a = strdup(status_json), *b = strdup(metrics);
  uv_mutex_lock(&s->lock);
  /* subscribers hear only of real changes, not of every periodic refresh */
  int changed = !s->status_json || !a || strcmp(s->status_json, a) != 0;
  free(s->status_json);
  free(s->metrics);
  s->status_json = a;
  s->metrics = b;
  s->stale = 0;
  if (changed)
    s->version++;
  uv_cond_broadcast(&s->changed); /* requests waiting for freshness, and streams on a change */
  uv_mutex_unlock(&s->lock);
}

int http_new_login(struct http_server *s, char ret_secret[65]) {
  uv_mutex_lock(&s->lock);
  int err = secret_add(s->logins, HTTP_LOGINS_MAX, HTTP_LOGIN_TTL_MS, ret_secret);
  uv_mutex_unlock(&s->lock);
  return err;
}

void http_mark_stale(struct http_server *s) {
  uv_mutex_lock(&s->lock);
  s->stale = 1;
  uv_mutex_unlock(&s->lock);
}

int http_port(const struct http_server *s) {
  return s->port;
}

static void on_async_closed(uv_handle_t *h) {
  struct http_server *s = h->data;
  while (s->pushes) {
    struct push_request *next = s->pushes->next;
    free(s->pushes);
    s->pushes = next;
  }
  uv_cond_destroy(&s->changed);
  uv_mutex_destroy(&s->lock);
  free(s->status_json);
  free(s->metrics);
  free(s);
}

void http_stop(struct http_server *s) {
  if (!s)
    return;
  uv_mutex_lock(&s->lock);
  s->stopping = 1; /* ends every /events stream */
  uv_cond_broadcast(&s->changed);
  uv_mutex_unlock(&s->lock);
  MHD_stop_daemon(s->daemon);
  uv_close((uv_handle_t *)&s->async, on_async_closed);
}
