/* Host agent lifecycle: scanning and publishing, guest records, listeners and signals. */
#include "host-agent/hostd.h"

#include "common/cmdline.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/platform.h"
#include "common/text.h"
#include "host-agent/discover.h"
#include "host-agent/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct scan_job {
  uv_work_t work;
  struct hostd *h;
  struct generation *gen;
  int err;
  char text[512];
  char discovered[600]; /* what discovery found, when it ran */
};

uint64_t hostd_now_ms(void) {
  uv_timeval64_t tv;
  uv_gettimeofday(&tv);
  return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

int hostd_guest_in_sync(const struct hostd *h, const struct guest *g) {
  return h->gen && g->has_generation && memcmp(g->generation, h->gen->m.id, HASH_LEN) == 0;
}

struct guest *hostd_find_guest(struct hostd *h, const char *name) {
  for (size_t i = 0; i < h->nguests; i++)
    if (strcmp(h->guests[i]->name, name) == 0 || strcmp(h->guests[i]->id, name) == 0)
      return h->guests[i];
  return NULL;
}

struct guest *hostd_guest_for(struct hostd *h, const char *id) {
  for (size_t i = 0; i < h->nguests; i++)
    if (strcmp(h->guests[i]->id, id) == 0)
      return h->guests[i];
  if (h->nguests == HOSTD_MAX_GUESTS)
    return NULL;
  struct guest *g = calloc(1, sizeof *g);
  if (!g)
    return NULL;
  snprintf(g->id, sizeof g->id, "%s", id);
  h->guests[h->nguests++] = g;
  return g;
}

void hostd_guest_changed(struct hostd *h, struct guest *g) {
  control_guest_changed(h, g);
  hostd_publish_snapshot(h);
}

void hostd_publish_snapshot(struct hostd *h) {
  if (!h->http)
    return;
  cJSON *status = status_json(h);
  char *json = status ? cJSON_PrintUnformatted(status) : NULL;
  char *metrics = NULL;
  if (json && metrics_text(h, &metrics) == 0)
    http_publish(h->http, json, metrics);
  cJSON_Delete(status);
  cJSON_free(json);
  free(metrics);
}

static void on_snapshot_timer(uv_timer_t *t) {
  hostd_publish_snapshot(t->data); /* keeps push progress moving between events */
}

/* A push from the dashboard: rescan, then push like `gpupv push` without waiting. */
struct http_push {
  struct hostd *h;
  int all;
  char guest[64];
};

static void on_http_push_scanned(void *ctx, int err, const char *text) {
  struct http_push *p = ctx;
  struct hostd *h = p->h;
  if (err)
    log_warn("dashboard push: %s", text);
  for (size_t i = 0; !err && !h->stopping && i < h->nguests; i++) {
    struct guest *g = h->guests[i];
    if (g->session && (p->all || strcmp(g->name, p->guest) == 0))
      session_push(g->session, 1);
  }
  free(p);
}

static void on_http_push(void *ctx, const char *guest) {
  struct hostd *h = ctx;
  struct http_push *p = calloc(1, sizeof *p);
  if (!p || h->stopping) {
    free(p);
    return;
  }
  p->h = h;
  p->all = guest == NULL;
  snprintf(p->guest, sizeof p->guest, "%s", guest ? guest : "");
  log_info("dashboard: push to %s", guest ? guest : "all guests");
  hostd_rescan(h, on_http_push_scanned, p);
}

static int start_http(struct hostd *h) {
  char err[256];
  int rc = http_start(h->loop, h->cfg->http, on_http_push, h, &h->http, err, sizeof err);
  if (rc) {
    log_error("%s", err);
    return rc;
  }
  char host[64];
  snprintf(host, sizeof host, "%s", h->cfg->http);
  char *colon = strrchr(host, ':');
  if (colon)
    *colon = 0;
  snprintf(h->http_url, sizeof h->http_url, "http://%s:%d/", host, http_port(h->http));
  if (strcmp(host, "127.0.0.1") != 0 && strcmp(host, "[::1]") != 0 && strcmp(host, "localhost"))
    log_warn("the dashboard listens beyond loopback on %s", h->http_url);
  log_info("dashboard and metrics on %s", h->http_url);
  uv_timer_init(h->loop, &h->snapshot_timer);
  h->snapshot_timer.data = h;
  uv_timer_start(&h->snapshot_timer, on_snapshot_timer, 500, 500);
  hostd_publish_snapshot(h);
  return 0;
}

static void scan_work(uv_work_t *w) {
  struct scan_job *j = w->data;
  struct source_config cfg = j->h->source;
  struct discovery d;
  int discover = j->h->cfg->discover;
  /* discovery runs at every scan: a driver update moves the package to a new folder */
  if (discover)
    discover_into(&d, &cfg, j->discovered, sizeof j->discovered);
  if (!cfg.driver_store && !cfg.lib_inbox && !cfg.lib_packaged && !cfg.wsl_msix) {
    /* publishing an empty generation would empty every guest */
    snprintf(j->text, sizeof j->text, "%.500s", j->discovered);
    j->err = UV_ENOENT;
  } else {
    j->err = source_scan(&cfg, &j->gen, j->text, sizeof j->text);
  }
  if (discover)
    discovery_done(&d);
}

static void start_scan(struct hostd *h);

static void publish(struct hostd *h, struct generation *gen) {
  const struct scan_stats *st = &gen->stats;
  int changed = !h->gen || memcmp(h->gen->m.id, gen->m.id, HASH_LEN) != 0;
  log_info("scan: %llu files, %llu bytes, %llu bytes hashed; generation %.12s%s",
           (unsigned long long)st->files, (unsigned long long)st->bytes,
           (unsigned long long)st->bytes_hashed, gen->id_hex, changed ? " (new)" : "");
  if (!changed) {
    generation_unref(gen);
    return;
  }
  if (sign_generation(h->key, gen->m.id, h->gen_signature)) {
    log_error("cannot sign generation %.12s; keeping the previous one", gen->id_hex);
    generation_unref(gen);
    return;
  }
  generation_unref(h->gen);
  h->gen = gen;
  for (size_t i = 0; i < h->nguests; i++) {
    struct guest *g = h->guests[i];
    g->has_failed_generation = 0; /* a new generation gets a fresh try */
    if (g->session && !h->cfg->no_auto_push)
      session_push(g->session, 0);
    hostd_guest_changed(h, g);
  }
}

static void scan_done(uv_work_t *w, int status) {
  struct scan_job *j = w->data;
  struct hostd *h = j->h;
  int err = status ? status : j->err;
  h->scanning = 0;
  h->scanned_ms = hostd_now_ms();
  if (*j->discovered && !err)
    log_info("%s", j->discovered);
  if (err) {
    snprintf(h->scan_error, sizeof h->scan_error, "%s", j->text);
    log_error("scan failed: %s", j->text);
  } else {
    h->scan_error[0] = 0;
    h->last_scan = j->gen->stats;
    if (!h->stopping)
      publish(h, j->gen);
    else
      generation_unref(j->gen);
  }
  struct scan_waiter *done = h->waiting_current;
  h->waiting_current = h->waiting_next;
  h->waiting_next = NULL;
  if (h->waiting_current && !h->stopping)
    start_scan(h);
  hostd_publish_snapshot(h);
  cmdline_signal_ready(&h->ready_fd);
  while (done) {
    struct scan_waiter *next = done->next;
    if (done->cb)
      done->cb(done->ctx, err, err ? j->text : NULL);
    free(done);
    done = next;
  }
  free(j);
}

static void start_scan(struct hostd *h) {
  struct scan_job *j = calloc(1, sizeof *j);
  if (!j)
    return;
  j->h = h;
  j->work.data = j;
  h->scanning = 1;
  if (uv_queue_work(h->loop, &j->work, scan_work, scan_done)) {
    h->scanning = 0;
    free(j);
  }
}

void hostd_rescan(struct hostd *h, hostd_scan_cb cb, void *ctx) {
  struct scan_waiter *w = calloc(1, sizeof *w);
  if (!w) {
    if (cb)
      cb(ctx, UV_ENOMEM, "out of memory");
    return;
  }
  w->cb = cb;
  w->ctx = ctx;
  /* A scan already running may have read the tree before the change we are asked about. */
  struct scan_waiter **list = h->scanning ? &h->waiting_next : &h->waiting_current;
  w->next = *list;
  *list = w;
  if (!h->scanning)
    start_scan(h);
}

static void on_guest_accept(struct listener *l, struct conn *c) {
  struct hostd *h = l->owner;
  if (h->stopping || !session_new(h, c)) {
    conn_close(c, 0);
    return;
  }
  conn_start(c);
}

static void on_signal(uv_signal_t *sig, int signum) {
  struct hostd *h = sig->data;
  if (signum == SIGHUP) {
    log_info("SIGHUP: rescanning the source");
    hostd_rescan(h, NULL, NULL);
    return;
  }
  log_info("%s: shutting down", signum == SIGTERM ? "SIGTERM" : "SIGINT");
  hostd_stop(h);
}

static int start_signals(struct hostd *h) {
  uv_signal_t *sigs[] = {&h->sighup, &h->sigterm, &h->sigint};
  int nums[] = {SIGHUP, SIGTERM, SIGINT};
  for (int i = 0; i < 3; i++) {
    uv_signal_init(h->loop, sigs[i]);
    sigs[i]->data = h;
    int err = uv_signal_start(sigs[i], on_signal, nums[i]);
    if (err)
      return err;
  }
  return 0;
}

static int start_listeners(struct hostd *h) {
  static const struct conn_ops no_ops;
  for (size_t i = 0; i < h->cfg->listen.n; i++) {
    struct uri uri;
    const char *reason = NULL;
    const char *text = h->cfg->listen.items[i];
    int err = uri_parse(text, &uri, &reason);
    if (!err)
      err = listener_start(&h->listeners[i], h->loop, &uri, 0, &no_ops, h, on_guest_accept);
    if (err) {
      log_error("listen %s: %s", text,
                reason              ? reason
                : err == GPUPV_EURI ? "tcp is loopback-only until TLS lands"
                                    : gpupv_strerror(err));
      return err;
    }
    h->nlisteners++;
    log_info("listening for guests on %s", text);
  }
  return 0;
}

int hostd_start(struct hostd *h, uv_loop_t *loop, struct hostd_config *cfg) {
  memset(h, 0, sizeof *h);
  h->loop = loop;
  h->cfg = cfg;
  h->ready_fd = (int)cfg->ready_fd;
  h->source.driver_store = cfg->driver_store;
  h->source.packages = &cfg->packages;
  h->source.lib_inbox = cfg->lib_inbox;
  h->source.lib_packaged = cfg->lib_packaged;
  h->source.wsl_msix = cfg->wsl_msix;
  int err = fs_mkdir_p(cfg->state_dir, 0700);
  if (err) {
    log_error("state directory %s: %s", cfg->state_dir, gpupv_strerror(err));
    return err;
  }
  snprintf(h->cache_path, sizeof h->cache_path, "%s/hash-cache", cfg->state_dir);
  h->source.cache_path = h->cache_path;
  char key_path[1100];
  snprintf(key_path, sizeof key_path, "%s/host-key.pem", cfg->state_dir);
  if ((err = sign_key_load_or_create(key_path, &h->key))) {
    log_error("host signing key %s: %s", key_path, gpupv_strerror(err));
    return err;
  }
  uint8_t pub[SIGN_KEY_LEN];
  sign_key_public(h->key, pub);
  text_hex_encode(pub, SIGN_KEY_LEN, h->key_hex);
  log_info("manifests are signed with host key %s", h->key_hex);
  if ((err = start_signals(h)) || (err = start_listeners(h)) ||
      (err = control_start(h, cfg->control)) || (cfg->http && (err = start_http(h))))
    return err;
  hostd_rescan(h, NULL, NULL);
  return 0;
}

void hostd_stop(struct hostd *h) {
  if (h->stopping)
    return;
  h->stopping = 1;
  service_unwatch();
  for (size_t i = 0; i < h->nlisteners; i++)
    listener_close(&h->listeners[i], NULL);
  h->nlisteners = 0;
  control_close_all(h);
  session_close_all(h);
  if (h->http) {
    uv_close((uv_handle_t *)&h->snapshot_timer, NULL);
    http_stop(h->http); /* joins its thread; it only ever reads the snapshot */
    h->http = NULL;
  }
  uv_close((uv_handle_t *)&h->sighup, NULL);
  uv_close((uv_handle_t *)&h->sigterm, NULL);
  uv_close((uv_handle_t *)&h->sigint, NULL);
}

void hostd_done(struct hostd *h) {
  for (size_t i = 0; i < h->nguests; i++) {
    cJSON_Delete(h->guests[i]->report);
    free(h->guests[i]);
  }
  generation_unref(h->gen);
  sign_key_free(h->key);
  if (h->ready_fd >= 0)
    close(h->ready_fd);
}
