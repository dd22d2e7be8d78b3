/* Host agent lifecycle: scanning and publishing, sessions' callbacks, listeners and signals. */
#include "host-agent/hostd.h"

#include "common/cmdline.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/platform.h"
#include "common/text.h"
#include "host-agent/control.h"
#include "host-agent/device-watch.h"
#include "host-agent/discover.h"
#include "host-agent/guest-keys.h"
#include "host-agent/http.h"
#include "host-agent/metrics.h"
#include "host-agent/stamps.h"
#include "host-agent/status.h"
#include "host-agent/system-files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOSTD_TICK_MS 250
#define HOSTD_SAVE_EVERY_MS 1000

struct scan_job {
  uv_work_t work;
  struct hostd *h;
  struct generation *gen;
  struct stamps seen; /* what the last read saw: the folders to watch */
  int err;
  int settled_anyway; /* the source has not been quiet for WATCH_MAX_WAIT_MS: take a stable read */
  uint64_t wait_ms;   /* GPUPV_EMOVED: quiet time still to wait */
  uint64_t duration_ms;
  char text[512];
  char discovered[600]; /* what discovery found, when it ran */
};

int host_guest_connected(const struct guest *g) {
  return g->session != NULL;
}

int host_guest_busy(const struct guest *g) {
  return g->session && session_busy(g->session);
}

/* ---- what sessions tell us ---- */

/* A second live connection for g's identity: refused unless it is the first take-over in a
 * while (a guest that reconnected before its old connection was seen to drop). */
static int take_over(struct host_state *st, struct guest *g, const char *transport, char *why,
                     size_t why_size) {
  if (guests_may_replace(g, transport, guests_now_ms())) {
    log_info("guest \"%s\": a new connection from %s replaces the one from %s", g->name, transport,
             g->transport);
    session_close(g->session, 0);
    return 1;
  }
  snprintf(why, why_size, "name in use by another guest (%.100s); give each VM its own --name",
           g->transport);
  char notice[300];
  snprintf(notice, sizeof notice, "name in use by another guest: %.100s also connects as \"%.60s\"",
           transport, g->name);
  session_notice(g->session, "name_conflict", notice);
  log_warn("guest \"%s\": another guest at %s claims the same identity (%llu times); refused",
           g->name, transport, (unsigned long long)g->conflicts);
  guests_changed(&st->guests, g, GUESTS_DURABLE);
  return 0;
}

static struct guest *on_session_hello(void *ctx, struct session *s,
                                      const struct session_hello *hello, int *ret_err, char *why,
                                      size_t why_size, const char **ret_code) {
  struct host_state *st = &((struct hostd *)ctx)->st;
  if (st->stopping) {
    *ret_err = UV_ECANCELED;
    snprintf(why, why_size, "the host agent is stopping");
    return NULL;
  }
  const char *allowlist = st->cfg->allow_guest_keys;
  if (hello->key && allowlist && !guest_keys_allowed(allowlist, hello->key, why, why_size)) {
    *ret_err = GPUPV_EPEER_KEY;
    *ret_code = "key_not_allowed";
    return NULL;
  }
  struct guest *g = guests_claim(&st->guests, hello->id);
  if (!g) {
    *ret_err = GPUPV_ELIMIT;
    snprintf(why, why_size, "the host keeps %zu guests and all are connected", st->guests.capacity);
    return NULL;
  }
  if (g->session && g->session != s && !take_over(st, g, hello->transport, why, why_size)) {
    *ret_err = GPUPV_ECONFLICT;
    *ret_code = "name_conflict";
    return NULL;
  }
  g->session = s;
  guests_set_name(g, hello->name);
  g->has_key = hello->key != NULL;
  if (hello->key)
    memcpy(g->key, hello->key, SIGN_KEY_LEN);
  text_copy(g->transport, sizeof g->transport, hello->transport); /* ours, not the guest's */
  g->has_generation = hello->generation != NULL;
  g->system_files = hello->system_files;
  g->pinned = hello->pinned != NULL;
  if (hello->pinned)
    memcpy(g->pinned_generation, hello->pinned, HASH_LEN);
  if (hello->generation)
    memcpy(g->generation, hello->generation, HASH_LEN);
  g->connected_ms = g->last_seen_ms = guests_now_ms();
  if (hello->status)
    guests_set_report(g, hello->status);
  guests_changed(&st->guests, g, GUESTS_DURABLE);
  return g;
}

static void on_session_ready(void *ctx, struct guest *g) {
  push_on_connect(&((struct hostd *)ctx)->st.push, g);
}

static void on_session_report(void *ctx, struct guest *g, const cJSON *status) {
  struct host_state *st = &((struct hostd *)ctx)->st;
  guests_set_report(g, status);
  /* reports come often from many guests: shown at once, saved with the next durable change
   * (a disconnect at the latest), not a rewrite of the whole registry for each */
  guests_changed(&st->guests, g, GUESTS_TRANSIENT);
}

static void on_session_progress(void *ctx, struct guest *g) {
  struct host_state *st = &((struct hostd *)ctx)->st;
  guests_changed(&st->guests, g, GUESTS_TRANSIENT);
}

static void on_session_push_finished(void *ctx, struct guest *g, const struct push_record *r,
                                     const uint8_t *installed) {
  struct host_state *st = &((struct hostd *)ctx)->st;
  g->last_push = *r;
  g->has_last_push = 1;
  g->pushes_total++;
  g->push_failures_total += !r->ok;
  g->push_bytes_total += r->bytes;
  g->push_ms_total += r->finished_ms - r->started_ms;
  if (installed) {
    memcpy(g->generation, installed, HASH_LEN);
    g->has_generation = 1;
    g->pinned = 0; /* an install ends a rollback's pin (the guest drops it too) */
  }
  double secs = (double)(r->finished_ms - r->started_ms) / 1000.0;
  if (r->ok)
    log_info("guest \"%s\": generation %.12s installed: %llu bytes in %.2f s%s%s%s", g->name,
             r->generation, (unsigned long long)r->bytes, secs,
             r->warning[0] ? " (warning: \"" : "", r->warning, r->warning[0] ? "\")" : "");
  else
    log_warn("guest \"%s\": push of generation %.12s failed: \"%s\"", g->name, r->generation,
             r->error);
  /* the coordinator first: a `push --wait` is decided when the guest changes, and it waits
   * while the coordinator still holds the request (it would wait for the next tick) */
  push_on_finished(&st->push, g, r->ok, r->generation);
  guests_changed(&st->guests, g, GUESTS_DURABLE);
}

static void on_session_closed(void *ctx, struct guest *g, struct session *s, int reason) {
  (void)reason;
  struct host_state *st = &((struct hostd *)ctx)->st;
  if (!g || g->session != s)
    return;
  g->session = NULL;
  g->last_seen_ms = guests_now_ms();
  guests_changed(&st->guests, g, GUESTS_DURABLE);
}

/* ---- what the push coordinator asks ---- */

static int push_start(void *ctx, struct guest *g) {
  (void)ctx;
  return g->session ? session_push(g->session) : GPUPV_ENOT_CONNECTED;
}

static int push_connected(void *ctx, const struct guest *g) {
  (void)ctx;
  return host_guest_connected(g);
}

static int push_busy(void *ctx, const struct guest *g) {
  (void)ctx;
  return host_guest_busy(g);
}

static const struct push_ops hostd_push_ops = {push_start, push_connected, push_busy};

/* ---- snapshots for the dashboard, saving, stalled peers ---- */

static void publish_snapshot(struct hostd *h) {
  h->snapshot_dirty = 0;
  if (!h->http)
    return;
  cJSON *status = status_json(&h->st);
  char *json = status ? cJSON_PrintUnformatted(status) : NULL;
  char *metrics = NULL;
  if (json && metrics_text(&h->st, &metrics) == 0)
    http_publish(h->http, json, metrics);
  cJSON_Delete(status);
  cJSON_free(json);
  free(metrics);
}

/* Snapshots are made on the housekeeping tick, or at once when a request wants one. */
static void mark_dirty(struct hostd *h) {
  h->snapshot_dirty = 1;
  if (h->http)
    http_mark_stale(h->http);
}

static void on_http_refresh(void *ctx) {
  publish_snapshot(ctx);
}

static void on_guest_changed(void *ctx, struct guest *g, enum guests_change kind) {
  (void)g, (void)kind;
  mark_dirty(ctx);
}

static void save_guests(struct hostd *h) {
  int err = guests_save(&h->st.guests);
  if (err)
    log_warn("saving the guest records in %s: %s", h->st.guests.path, gpupv_strerror(err));
}

static void on_housekeeping(uv_timer_t *t) {
  struct hostd *h = t->data;
  struct host_state *st = &h->st;
  /* a push in flight moves its progress without an event */
  if (h->snapshot_dirty || session_list_busy(&st->sessions))
    publish_snapshot(h);
  if (st->guests.dirty && uv_now(st->loop) - h->saved_ms >= HOSTD_SAVE_EVERY_MS) {
    save_guests(h);
    h->saved_ms = uv_now(st->loop);
  }
  session_close_stalled(&st->sessions, uv_now(st->loop), (uint64_t)h->cfg->write_timeout_ms);
  if (h->control)
    control_close_stalled(h->control, uv_now(st->loop), (uint64_t)h->cfg->write_timeout_ms);
}

/* ---- the dashboard's push button ---- */

struct http_push {
  struct hostd *h;
  int all;
  char guest[64];
};

static void on_http_push_scanned(void *ctx, int err, const char *text) {
  struct http_push *p = ctx;
  struct host_state *st = &p->h->st;
  if (err)
    log_warn("dashboard push: %s", text);
  for (size_t i = 0; !err && !st->stopping && i < st->guests.n; i++) {
    struct guest *g = st->guests.items[i];
    if (g->session && (p->all || strcmp(g->name, p->guest) == 0))
      push_on_request(&st->push, g, 0); /* the dashboard never overrides a pin */
  }
  free(p);
}

static void hostd_rescan(struct host_state *st, host_scan_cb cb, void *ctx);

static void on_http_push(void *ctx, const char *guest) {
  struct hostd *h = ctx;
  struct http_push *p = calloc(1, sizeof *p);
  if (!p || h->st.stopping) {
    free(p);
    return;
  }
  p->h = h;
  p->all = guest == NULL;
  snprintf(p->guest, sizeof p->guest, "%s", guest ? guest : "");
  log_info("dashboard: push to %s", guest ? guest : "all guests");
  hostd_rescan(&h->st, on_http_push_scanned, p);
}

static int start_http(struct hostd *h) {
  char err[256];
  int rc = http_start(h->st.loop, h->cfg->http, on_http_push, on_http_refresh, h, &h->http, err,
                      sizeof err);
  if (rc) {
    log_error("%s", err);
    return rc;
  }
  char host[64];
  snprintf(host, sizeof host, "%s", h->cfg->http);
  char *colon = strrchr(host, ':');
  if (colon)
    *colon = 0;
  snprintf(h->st.http_url, sizeof h->st.http_url, "http://%s:%d/", host, http_port(h->http));
  if (strcmp(host, "127.0.0.1") != 0 && strcmp(host, "[::1]") != 0 && strcmp(host, "localhost"))
    log_warn("the dashboard listens beyond loopback on %s", h->st.http_url);
  log_info("dashboard and metrics on %s", h->st.http_url);
  publish_snapshot(h);
  return 0;
}

static int dashboard_login(struct host_state *st, char *url, size_t url_size) {
  struct hostd *h = (struct hostd *)st; /* st is the first member */
  char secret[65];
  if (!h->http)
    return UV_ENOTSUP;
  int err = http_new_login(h->http, secret);
  if (!err)
    snprintf(url, url_size, "%slogin?token=%s", st->http_url, secret);
  return err;
}

/* ---- scanning and publishing ---- */

/* Reads the source once. The read is refused (GPUPV_EMOVED, with the quiet time still to wait)
 * when something moved between its first stat and its last, or when anything in it changed
 * within the quiet time: an installer may still be writing, even if it paused during the read. */
static void read_settled(struct scan_job *j, const struct source_config *cfg) {
  char moved[400] = "";
  j->err = source_scan(cfg, &j->seen, &j->gen, j->text, sizeof j->text);
  uint64_t quiet_ms = (uint64_t)j->h->cfg->debounce_ms;
  if (j->err == UV_EAGAIN) { /* a file grew while it was hashed */
    snprintf(moved, sizeof moved, "%.300s", j->text);
    j->err = GPUPV_EMOVED;
    j->wait_ms = quiet_ms;
  } else if (!j->err && stamps_check(&j->seen, moved, sizeof moved)) {
    j->err = GPUPV_EMOVED;
    j->wait_ms = quiet_ms;
  } else if (!j->err && !j->settled_anyway) {
    uv_timeval64_t tv;
    const char *path;
    int64_t newest = stamps_newest(&j->seen, &path);
    int64_t age_ms =
        uv_gettimeofday(&tv) ? 0 : (tv.tv_sec * 1000000 + tv.tv_usec) / 1000 - newest / 1000000;
    /* a change time ahead of the clock (the clock went back) cannot be judged: accept */
    if (path && age_ms >= 0 && (uint64_t)age_ms < quiet_ms) {
      snprintf(moved, sizeof moved, "%.300s changed %lld ms ago", path, (long long)age_ms);
      j->err = GPUPV_EMOVED;
      j->wait_ms = quiet_ms - (uint64_t)age_ms;
    }
  }
  if (j->err == GPUPV_EMOVED) {
    generation_unref(j->gen);
    j->gen = NULL;
    snprintf(j->text, sizeof j->text, "the source is being written (%s)", moved);
  }
}

static void scan_work(uv_work_t *w) {
  struct scan_job *j = w->data;
  struct source_config cfg = j->h->source;
  struct discovery d;
  int discover = j->h->cfg->discover;
  /* discovery runs at every scan: a driver update moves the package to a new folder */
  if (discover)
    discover_into(&d, &cfg, j->discovered, sizeof j->discovered);
  uint64_t t0 = uv_hrtime();
  if (!cfg.driver_store && !cfg.lib_inbox && !cfg.lib_packaged && !cfg.wsl_msix) {
    /* publishing an empty generation would empty every guest */
    snprintf(j->text, sizeof j->text, "%.500s", j->discovered);
    j->err = UV_ENOENT;
  } else {
    read_settled(j, &cfg);
  }
  j->duration_ms = (uv_hrtime() - t0) / 1000000;
  if (discover)
    discovery_done(&d);
}

static void start_scan(struct hostd *h);
static void arm_watch(struct hostd *h, const struct stamps *seen);

static void publish(struct hostd *h, struct generation *gen) {
  struct session_offer *o = &h->st.offer;
  const struct scan_stats *sc = &gen->stats;
  int changed = !o->gen || memcmp(o->gen->m.id, gen->m.id, HASH_LEN) != 0;
  log_info("scan: %llu files, %llu bytes, %llu bytes hashed; generation %.12s%s",
           (unsigned long long)sc->files, (unsigned long long)sc->bytes,
           (unsigned long long)sc->bytes_hashed, gen->id_hex, changed ? " (new)" : "");
  uint8_t sig[SIGN_SIG_LEN], plain_sig[SIGN_SIG_LEN];
  if (!changed) {
    generation_unref(gen);
    return;
  }
  if (sign_generation(h->key, gen->m.id, sig) ||
      sign_generation(h->key, gen->plain_id, plain_sig)) {
    log_error("cannot sign generation %.12s; keeping the previous one", gen->id_hex);
    generation_unref(gen);
    return;
  }
  text_hex_encode(sig, SIGN_SIG_LEN, o->signature_hex);
  text_hex_encode(plain_sig, SIGN_SIG_LEN, o->plain_signature_hex);
  generation_unref(o->gen);
  o->gen = gen;
  h->st.generations_published++;
  mark_dirty(h);
  push_on_generation(&h->st.push, gen->m.id, gen->plain_id);
}

static void scan_done(uv_work_t *w, int status) {
  struct scan_job *j = w->data;
  struct hostd *h = j->h;
  struct host_state *st = &h->st;
  int err = status ? status : j->err;
  h->scanning = 0;
  st->scanned_ms = guests_now_ms();
  st->scan_ms = j->duration_ms;
  if (*j->discovered && !err)
    log_info("%s", j->discovered);
  if (!h->cfg->no_watch && !st->stopping)
    arm_watch(h, &j->seen);
  /* not a failure: the source is being updated, and is read again once it is quiet */
  int deferred = err == GPUPV_EMOVED && !st->stopping;
  if (deferred) {
    if (!h->unsettled_since_ms)
      h->unsettled_since_ms = uv_now(st->loop);
    log_info("%s; reading it again once it has been quiet for %ld ms", j->text,
             h->cfg->debounce_ms);
    watch_poke_in(&h->watch, j->wait_ms);
  } else if (err) {
    snprintf(st->scan_error, sizeof st->scan_error, "%s", j->text);
    log_error("scan failed: %s", j->text);
  } else {
    st->scan_error[0] = 0;
    st->last_scan = j->gen->stats;
    if (!st->stopping)
      publish(h, j->gen);
    else
      generation_unref(j->gen);
  }
  struct scan_waiter *done = NULL;
  if (deferred) { /* this scan's waiters wait for the read the end of the quiet time starts */
    struct scan_waiter **tail = &h->waiting_current;
    while (*tail)
      tail = &(*tail)->next;
    *tail = h->waiting_next;
  } else {
    h->unsettled_since_ms = 0;
    done = h->waiting_current;
    h->waiting_current = h->waiting_next;
  }
  h->waiting_next = NULL;
  if (h->waiting_current && !st->stopping && !watch_settling(&h->watch))
    start_scan(h);
  mark_dirty(h);
  if (!deferred) /* ready once the source has been read, not while it is being written */
    cmdline_signal_ready(&h->ready_fd);
  while (done) {
    struct scan_waiter *next = done->next;
    if (done->cb)
      done->cb(done->ctx, err, err ? j->text : NULL);
    free(done);
    done = next;
  }
  stamps_free(&j->seen);
  free(j);
}

static void start_scan(struct hostd *h) {
  struct scan_job *j = calloc(1, sizeof *j);
  if (!j)
    return;
  j->h = h;
  j->work.data = j;
  if (h->unsettled_since_ms && uv_now(h->st.loop) - h->unsettled_since_ms >= WATCH_MAX_WAIT_MS) {
    j->settled_anyway = 1;
    log_warn("the source has not been quiet for %d s; publishing a read during which nothing "
             "moved",
             WATCH_MAX_WAIT_MS / 1000);
  }
  h->scanning = 1;
  if (uv_queue_work(h->st.loop, &j->work, scan_work, scan_done)) {
    h->scanning = 0;
    free(j);
  }
}

static void hostd_rescan(struct host_state *st, host_scan_cb cb, void *ctx) {
  struct hostd *h = (struct hostd *)st; /* st is the first member */
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
  /* a source being written is read once it is quiet (on_source_watch) */
  if (!h->scanning && !watch_settling(&h->watch))
    start_scan(h);
}

/* Watches the folders the scan read, from now on. */
static void arm_watch(struct hostd *h, const struct stamps *seen) {
  size_t n;
  const char **dirs = stamps_dirs(seen, &n);
  if (!dirs)
    return; /* out of memory: the folders watched so far stay, the periodic rescan covers */
  watch_set(&h->watch, dirs, n);
  free(dirs);
}

/* A GPU came or went, or a driver key changed: like a folder change, rescanned once quiet. */
static void on_device_change(void *ctx) {
  struct hostd *h = ctx;
  log_debug("a display driver or GPU changed");
  watch_poke(&h->watch);
}

static void on_source_watch(void *ctx, enum watch_reason why) {
  struct hostd *h = ctx;
  if (h->st.stopping)
    return;
  if (why == WATCH_CHANGED)
    log_info("the source changed and has been quiet for %ld ms: rescanning", h->cfg->debounce_ms);
  else
    log_debug("periodic rescan");
  hostd_rescan(&h->st, NULL, NULL);
}

/* ---- listeners and signals ---- */

static void on_guest_accept(struct listener *l, struct conn *c) {
  struct hostd *h = l->owner;
  if (h->st.stopping) {
    conn_close(c, 0);
    return;
  }
  if (h->st.sessions.n >= (size_t)h->cfg->max_connections) {
    log_warn("%s: refused: already %ld guest connections", c->peer, h->cfg->max_connections);
    conn_close(c, 0);
    return;
  }
  if (!session_new(&h->env, c))
    conn_close(c, UV_ENOMEM);
}

static void on_signal(uv_signal_t *sig, int signum) {
  struct hostd *h = sig->data;
  if (signum == SIGHUP) {
    log_info("SIGHUP: rescanning the source");
    hostd_rescan(&h->st, NULL, NULL);
    return;
  }
  log_info("%s: shutting down", signum == SIGTERM ? "SIGTERM" : "SIGINT");
  hostd_stop(h);
}

static int start_signals(struct hostd *h) {
  uv_signal_t *sigs[] = {&h->sighup, &h->sigterm, &h->sigint};
  int nums[] = {SIGHUP, SIGTERM, SIGINT};
  for (int i = 0; i < 3; i++) {
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
    if (!err && uri.kind == URI_TLS && !h->tls)
      err = tls_identity_new(h->key, TLS_SERVER, "gpupv-hostd", &h->tls);
    if (!err)
      err = uri.kind == URI_TLS ? listener_start_tls(&h->listeners[i], h->st.loop, &uri, h->tls,
                                                     &no_ops, h, on_guest_accept)
                                : listener_start(&h->listeners[i], h->st.loop, &uri, 0, &no_ops, h,
                                                 on_guest_accept);
    if (err) {
      log_error("listen %s: %s", text,
                reason              ? reason
                : err == GPUPV_EURI ? "tcp:// is loopback-only; across machines use tls://"
                                    : gpupv_strerror(err));
      return err;
    }
    h->nlisteners++;
    log_info("listening for guests on %s", text);
    if (uri.kind == URI_TLS && !h->cfg->allow_guest_keys)
      log_warn("%s takes any guest that reaches it; restrict it with --allow-guest-keys", text);
  }
  return 0;
}

static int load_key(struct hostd *h) {
  char key_path[1100];
  snprintf(key_path, sizeof key_path, "%s/host-key.pem", h->cfg->state_dir);
  int err = sign_key_load_or_create(key_path, &h->key);
  if (err) {
    log_error("host signing key %s: %s", key_path, gpupv_strerror(err));
    return err;
  }
  uint8_t pub[SIGN_KEY_LEN];
  sign_key_public(h->key, pub);
  text_hex_encode(pub, SIGN_KEY_LEN, h->st.offer.key_hex);
  log_info("manifests are signed with host key %s", h->st.offer.key_hex);
  return 0;
}

static int load_guests(struct hostd *h) {
  char path[1100], err_text[1300];
  snprintf(path, sizeof path, "%s/guests.json", h->cfg->state_dir);
  int err = guests_init(&h->st.guests, (size_t)h->cfg->max_guests, path);
  if (!err && (err = guests_load(&h->st.guests, err_text, sizeof err_text))) {
    /* a broken record file must not keep the agent down: start afresh and say so */
    log_warn("%s; starting with no guest records", err_text);
    err = 0;
  }
  if (!err && h->st.guests.n)
    log_info("%zu guest records from %s", h->st.guests.n, path);
  return err;
}

/* Everything that can be closed is initialised here, before anything can fail. */
static void init_handles(struct hostd *h, uv_loop_t *loop) {
  uv_signal_t *sigs[] = {&h->sighup, &h->sigterm, &h->sigint};
  for (int i = 0; i < 3; i++) {
    uv_signal_init(loop, sigs[i]);
    sigs[i]->data = h;
  }
  uv_timer_init(loop, &h->housekeeping);
  h->housekeeping.data = h;
  watch_init(&h->watch, loop, (uint64_t)h->cfg->debounce_ms,
             (uint64_t)h->cfg->rescan_interval_s * 1000, on_source_watch, h);
}

int hostd_start(struct hostd *h, uv_loop_t *loop, struct hostd_config *cfg) {
  memset(h, 0, sizeof *h);
  struct host_state *st = &h->st;
  st->loop = loop;
  st->cfg = cfg;
  st->rescan = hostd_rescan;
  st->dashboard_login = dashboard_login;
  st->offer.host_name = cfg->name;
  h->cfg = cfg;
  h->ready_fd = (int)cfg->ready_fd;
  h->source.driver_store = cfg->driver_store;
  h->source.packages = &cfg->packages;
  h->source.lib_inbox = cfg->lib_inbox;
  h->source.lib_packaged = cfg->lib_packaged;
  h->source.wsl_msix = cfg->wsl_msix;
  h->env = (struct session_env){
      .loop = loop,
      .offer = &st->offer,
      .list = &st->sessions,
      .max_rate = (uint64_t)cfg->max_rate,
      .hello_timeout_ms = (uint64_t)cfg->hello_timeout_ms,
      .ctx = h,
      .on_hello = on_session_hello,
      .on_ready = on_session_ready,
      .on_report = on_session_report,
      .on_push_progress = on_session_progress,
      .on_push_finished = on_session_push_finished,
      .on_closed = on_session_closed,
  };
  init_handles(h, loop);
  st->watch = cfg->no_watch ? NULL : &h->watch;
  if (cfg->system_files.n &&
      !(h->system_specs = calloc(cfg->system_files.n, sizeof *h->system_specs)))
    return UV_ENOMEM;
  for (size_t i = 0; i < cfg->system_files.n; i++) {
    const char *reason; /* checked when the options were read */
    if (system_file_parse(cfg->system_files.items[i], &h->system_specs[i], &reason) == 0)
      h->source.system_specs = h->system_specs, h->source.nsystem_specs++;
  }
  int err = fs_mkdir_p(cfg->state_dir, 0700);
  if (err) {
    log_error("state directory %s: %s", cfg->state_dir, gpupv_strerror(err));
    return err;
  }
  snprintf(h->cache_path, sizeof h->cache_path, "%s/hash-cache", cfg->state_dir);
  h->source.cache_path = h->cache_path;
  if ((err = load_key(h)) || (err = load_guests(h)))
    return err;
  push_init(&st->push, loop, &st->guests, &hostd_push_ops, h, !cfg->no_auto_push,
            (uint64_t)cfg->retry_min_ms, (uint64_t)cfg->retry_max_ms);
  h->push_started = 1;
  guests_observe(&st->guests, on_guest_changed, h);
  if ((err = start_signals(h)) || (err = start_listeners(h)) ||
      (err = control_start(st, cfg->control, &h->control)) || (cfg->http && (err = start_http(h))))
    return err;
  uv_timer_start(&h->housekeeping, on_housekeeping, HOSTD_TICK_MS, HOSTD_TICK_MS);
  if (!cfg->no_watch) /* UV_ENOTSUP where there are no drivers to ask about */
    device_watch_start(loop, DEVICE_WATCH_DISPLAY_CLASS, on_device_change, h, &h->devices);
  hostd_rescan(st, NULL, NULL);
  return 0;
}

void hostd_stop(struct hostd *h) {
  struct host_state *st = &h->st;
  if (st->stopping)
    return;
  st->stopping = 1;
  service_unwatch();
  for (size_t i = 0; i < h->nlisteners; i++)
    listener_close(&h->listeners[i], NULL);
  h->nlisteners = 0;
  if (h->control)
    control_stop(h->control);
  h->control = NULL;
  session_close_all(&st->sessions);
  if (h->http) {
    http_stop(h->http); /* joins its thread; it only ever reads the snapshot */
    h->http = NULL;
  }
  if (h->push_started)
    push_close(&st->push);
  watch_close(&h->watch);
  device_watch_stop(h->devices);
  h->devices = NULL;
  /* init_handles made these before anything could fail */
  uv_close((uv_handle_t *)&h->housekeeping, NULL);
  uv_close((uv_handle_t *)&h->sighup, NULL);
  uv_close((uv_handle_t *)&h->sigterm, NULL);
  uv_close((uv_handle_t *)&h->sigint, NULL);
}

void hostd_done(struct hostd *h) {
  if (h->st.guests.items) {
    save_guests(h); /* every record is offline now, with its last state */
    guests_done(&h->st.guests);
  }
  generation_unref(h->st.offer.gen);
  tls_identity_free(h->tls);
  sign_key_free(h->key);
  free(h->system_specs);
  if (h->ready_fd >= 0)
    close(h->ready_fd);
}
