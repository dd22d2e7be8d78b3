#include "host-agent/control.h"

#include "common/err.h"
#include "common/log.h"
#include "host-agent/bundle-send.h"
#include "host-agent/status.h"
#include "net/transport.h"
#include "proto/status-doc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONTROL_TICK_MS 250

struct control {
  struct host_state *st;
  struct listener listener;
  int listening, stopping;
  struct control_client *clients; /* open ones */
  size_t alive;                   /* not yet freed, closing ones included */
};

struct control_client {
  struct control *ctl;
  struct conn *c; /* NULL once closed */
  struct control_client *next;
  int scan_pending;
  /* a push being waited for */
  int waiting, wait, all, force;
  char guest_name[64];
  struct guest **targets; /* an evicted record becomes NULL */
  size_t ntargets;
  uint64_t started_ms, deadline_ms;
  uv_timer_t timer;
  int timer_closed;
  struct bundle_send *bundle; /* a `gpupv bundle` being served */
};

static void client_maybe_free(struct control_client *cl);
static void control_maybe_free(struct control *ctl);

static void send_document(struct control_client *cl, enum msg_type type, cJSON *doc) {
  int err = doc && cl->c ? conn_send_document(cl->c, type, doc) : UV_ENOMEM;
  if (err && cl->c)
    conn_close(cl->c, err);
  cJSON_Delete(doc);
}

static void push_result(struct control_client *cl, int ok, const char *error, cJSON *guests) {
  const struct generation *gen = cl->ctl->st->offer.gen;
  const struct status_result_view v = {ok, gen ? gen->id_hex : NULL, error, NULL};
  send_document(cl, MSG_PUSH_RESULT, status_doc_result(&v, guests));
  cl->waiting = 0;
  uv_timer_stop(&cl->timer);
}

static cJSON *target_json(const struct host_state *st, const struct guest *g, const char *error) {
  uint64_t done = 0, total = 0;
  if (g && host_guest_busy(g))
    session_progress(g->session, &done, &total);
  /* what the push is doing, for the CLI's bars */
  const char *phase = !g || !g->session            ? "waiting for the guest"
                      : host_guest_busy(g)         ? session_phase(g->session)
                      : push_in_sync(&st->push, g) ? "done"
                                                   : "waiting";
  struct status_target_view v = {
      .name = g ? g->name : NULL,
      .id = g ? g->id : NULL,
      .state = g ? status_guest_state(st, g) : "forgotten",
      .phase = phase,
      .error = error,
      .connected = g && g->session,
      .in_sync = g && push_in_sync(&st->push, g),
      .has_last_push = g && g->has_last_push,
      .bytes_done = (double)done,
      .bytes_total = (double)total,
  };
  if (v.has_last_push) {
    v.last_push_bytes = (double)g->last_push.bytes;
    v.last_push_ms = (double)(g->last_push.finished_ms - g->last_push.started_ms);
  }
  return status_doc_target(&v);
}

static int add_target(struct control_client *cl, struct guest *g) {
  struct guest **more = realloc(cl->targets, (cl->ntargets + 1) * sizeof *more);
  if (!more)
    return UV_ENOMEM;
  cl->targets = more;
  cl->targets[cl->ntargets++] = g;
  return 0;
}

/* Resolves a named target that had not connected when the push was asked for. */
static void resolve_named(struct control_client *cl) {
  if (cl->all || cl->ntargets)
    return;
  struct guest *g = guests_find(&cl->ctl->st->guests, cl->guest_name);
  if (g && g->session)
    add_target(cl, g);
}

static int failed_since(const struct guest *g, uint64_t since_ms) {
  return g->has_last_push && !g->last_push.ok && g->last_push.finished_ms >= since_ms &&
         !host_guest_busy(g);
}

/* Decides a waited push: every target in sync, or one failed, or the deadline passed. */
static void check_wait(struct control_client *cl) {
  if (!cl->waiting || !cl->c)
    return;
  struct host_state *st = cl->ctl->st;
  resolve_named(cl);
  int pending = 0, failed = 0;
  uint64_t now = guests_now_ms();
  int late = cl->deadline_ms && now >= cl->deadline_ms;
  cJSON *guests = cJSON_CreateArray();
  char first_error[GUEST_ERROR_MAX + 200] = "";
  if (!cl->ntargets && !cl->all) { /* --all with nobody connected has nothing to wait for */
    pending = 1;
    if (late)
      snprintf(first_error, sizeof first_error, "guest %s never connected", cl->guest_name);
  }
  for (size_t i = 0; i < cl->ntargets; i++) {
    struct guest *g = cl->targets[i];
    const char *error = NULL;
    if (!g) {
      error = "the host forgot this guest (too many guests)";
      failed = 1;
    } else if (failed_since(g, cl->started_ms)) {
      /* first: a guest in sync whose check failed (a planted link, a full disk) failed */
      error = g->last_push.error;
      failed = 1;
    } else if (push_in_sync(&st->push, g) && !host_guest_busy(g) &&
               !(g->retry.requested && !g->pinned)) {
      /* done: in sync, and the push this asked for has ended (or a pin refused it) */
    } else if (g->pinned && !cl->force) {
      error = "pinned by a rollback in the guest (gpupv push --force, or gpupv-guestd --unpin)";
      failed = 1;
    } else {
      pending = 1;
      if (late)
        error = g->session ? "timed out" : "not connected";
    }
    if (error && !*first_error)
      snprintf(first_error, sizeof first_error, "%s: %s", g ? g->name : "?", error);
    cJSON_AddItemToArray(guests, target_json(st, g, error));
  }
  if (!st->offer.gen) {
    pending = 0;
    failed = 1;
    snprintf(first_error, sizeof first_error, "the host has nothing to publish: %s",
             st->scan_error[0] ? st->scan_error : "no scan has succeeded");
  }
  if (pending && !late) {
    cJSON_Delete(guests);
    return;
  }
  if (pending && !*first_error)
    snprintf(first_error, sizeof first_error, "timed out");
  push_result(cl, !failed && !pending, failed || pending ? first_error : NULL, guests);
}

static void send_progress(struct control_client *cl) {
  cJSON *doc = cJSON_CreateObject();
  cJSON *guests = cJSON_AddArrayToObject(doc, "guests");
  uint64_t done = 0, total = 0;
  for (size_t i = 0; i < cl->ntargets; i++) {
    const struct guest *g = cl->targets[i];
    uint64_t d = 0, t = 0;
    if (g && host_guest_busy(g))
      session_progress(g->session, &d, &t);
    done += d, total += t;
    cJSON_AddItemToArray(guests, target_json(cl->ctl->st, g, NULL));
  }
  cJSON_AddNumberToObject(doc, "bytes_done", (double)done);
  cJSON_AddNumberToObject(doc, "bytes_total", (double)total);
  cJSON_AddNumberToObject(doc, "elapsed_ms", (double)(guests_now_ms() - cl->started_ms));
  send_document(cl, MSG_PROGRESS, doc);
}

static void on_tick(uv_timer_t *t) {
  struct control_client *cl = t->data;
  if (!cl->waiting)
    return;
  send_progress(cl);
  check_wait(cl);
}

static void on_push_scanned(void *ctx, int err, const char *text) {
  struct control_client *cl = ctx;
  struct host_state *st = cl->ctl->st;
  cl->scan_pending = 0;
  if (!cl->c) {
    client_maybe_free(cl);
    return;
  }
  if (err) {
    push_result(cl, 0, text, NULL);
    return;
  }
  cl->started_ms = guests_now_ms();
  cl->ntargets = 0;
  if (cl->all) {
    for (size_t i = 0; i < st->guests.n; i++)
      if (st->guests.items[i]->session && add_target(cl, st->guests.items[i])) {
        conn_close(cl->c, UV_ENOMEM);
        return;
      }
  } else {
    resolve_named(cl);
  }
  for (size_t i = 0; i < cl->ntargets; i++)
    push_on_request(&st->push, cl->targets[i], cl->force);
  if (!cl->wait) {
    cJSON *guests = cJSON_CreateArray();
    for (size_t i = 0; i < cl->ntargets; i++)
      cJSON_AddItemToArray(guests, target_json(st, cl->targets[i], NULL));
    int missing = !cl->all && !cl->ntargets;
    char error[128];
    snprintf(error, sizeof error, "guest %s is not connected", cl->guest_name);
    push_result(cl, !missing, missing ? error : NULL, guests);
    return;
  }
  cl->waiting = 1;
  uv_timer_start(&cl->timer, on_tick, CONTROL_TICK_MS, CONTROL_TICK_MS);
  check_wait(cl);
}

static void on_push(struct control_client *cl, const cJSON *msg) {
  const char *guest = NULL;
  uint64_t timeout_ms = 0;
  cl->force = 0;
  const cJSON *force = cJSON_GetObjectItemCaseSensitive(msg, "force");
  if ((force && msg_get_bool(msg, "force", &cl->force)) ||
      msg_get_str_opt(msg, "guest", 63, &guest) || msg_get_bool(msg, "wait", &cl->wait) ||
      (cJSON_GetObjectItem(msg, "timeout_ms") &&
       msg_get_u64(msg, "timeout_ms", MSG_U64_MAX, &timeout_ms))) {
    conn_fail(cl->c, GPUPV_EFIELD, "push: invalid guest, wait or timeout_ms");
    return;
  }
  if (cl->waiting || cl->scan_pending) {
    conn_fail(cl->c, GPUPV_EORDER, "push: one push at a time per connection");
    return;
  }
  cl->all = guest == NULL;
  snprintf(cl->guest_name, sizeof cl->guest_name, "%s", guest ? guest : "");
  cl->deadline_ms = timeout_ms ? guests_now_ms() + timeout_ms : 0;
  cl->scan_pending = 1;
  cl->ctl->st->rescan(cl->ctl->st, on_push_scanned, cl);
}

static void on_get_manifest(struct control_client *cl) {
  const struct generation *g = cl->ctl->st->offer.gen;
  cJSON *msg = msg_new(MSG_MANIFEST);
  cJSON_AddItemToObject(msg, "generation", g ? cJSON_CreateString(g->id_hex) : cJSON_CreateNull());
  cJSON_AddNumberToObject(msg, "size", g ? (double)g->encoded.len : 0);
  int err = msg ? conn_send_msg(cl->c, msg) : UV_ENOMEM;
  cJSON_Delete(msg);
  if (!err && g)
    err = conn_send_bytes(cl->c, g->encoded.data, g->encoded.len);
  if (err)
    conn_close(cl->c, err);
}

/* Only who can open the control socket (0600: the administrator) gets a login link. */
static void on_login(struct control_client *cl) {
  char url[256];
  int err = cl->ctl->st->dashboard_login(cl->ctl->st, url, sizeof url);
  if (err) {
    conn_fail(cl->c, err, "login: %s",
              err == UV_ENOTSUP ? "the dashboard is off (start gpupv-hostd with --http)"
                                : gpupv_strerror(err));
    return;
  }
  cJSON *msg = msg_new(MSG_LOGIN_URL);
  cJSON_AddStringToObject(msg, "url", url);
  int rc = msg ? conn_send_msg(cl->c, msg) : UV_ENOMEM;
  cJSON_Delete(msg);
  if (rc)
    conn_close(cl->c, rc);
}

static int control_on_control(struct conn *c, enum msg_type type, const cJSON *msg) {
  struct control_client *cl = c->owner;
  switch (type) {
  case MSG_GET_STATUS:
    send_document(cl, MSG_STATUS, status_json(cl->ctl->st));
    return 0;
  case MSG_GET_MANIFEST:
    on_get_manifest(cl);
    return 0;
  case MSG_PUSH:
    on_push(cl, msg);
    return 0;
  case MSG_LOGIN:
    on_login(cl);
    return 0;
  case MSG_GET_BUNDLE:
    if (cl->bundle)
      conn_fail(c, GPUPV_EORDER, "control: a bundle is already being sent on this connection");
    else
      cl->bundle = bundle_send_start(cl->ctl->st->loop, c, &cl->ctl->st->offer);
    return 0;
  default:
    conn_fail(c, GPUPV_EORDER, "control: %s is not a request", msg_type_name(type));
    return 0;
  }
}

static int control_on_data(struct conn *c, const uint8_t *data, size_t len) {
  (void)data, (void)len;
  conn_fail(c, GPUPV_EORDER, "control: unexpected data frame");
  return 0;
}

static void on_timer_closed(uv_handle_t *h) {
  struct control_client *cl = h->data;
  cl->timer_closed = 1;
  client_maybe_free(cl);
}

static void client_maybe_free(struct control_client *cl) {
  if (cl->c || cl->scan_pending)
    return;
  if (!uv_is_closing((uv_handle_t *)&cl->timer)) {
    uv_close((uv_handle_t *)&cl->timer, on_timer_closed);
    return;
  }
  if (!cl->timer_closed)
    return;
  struct control *ctl = cl->ctl;
  free(cl->targets);
  free(cl);
  ctl->alive--;
  control_maybe_free(ctl);
}

static void control_on_close(struct conn *c, int reason) {
  (void)reason;
  struct control_client *cl = c->owner;
  struct control_client **p = &cl->ctl->clients;
  while (*p && *p != cl)
    p = &(*p)->next;
  if (*p)
    *p = cl->next;
  cl->c = NULL;
  cl->waiting = 0;
  if (cl->bundle)
    bundle_send_stop(cl->bundle);
  cl->bundle = NULL;
  client_maybe_free(cl);
}

static void control_on_drain(struct conn *c) {
  struct control_client *cl = c->owner;
  if (cl->bundle)
    bundle_send_drain(cl->bundle);
}

static const struct conn_ops control_ops = {control_on_control, control_on_data, control_on_drain,
                                            control_on_close};

static void on_control_accept(struct listener *l, struct conn *c) {
  struct control *ctl = l->owner;
  struct control_client *cl = ctl->stopping ? NULL : calloc(1, sizeof *cl);
  if (!cl) {
    conn_close(c, 0);
    return;
  }
  cl->ctl = ctl;
  cl->c = c;
  c->owner = cl;
  uv_timer_init(ctl->st->loop, &cl->timer);
  cl->timer.data = cl;
  cl->next = ctl->clients;
  ctl->clients = cl;
  ctl->alive++;
  snprintf(c->peer, sizeof c->peer, "control client");
  conn_start(c);
}

/* A guest record changed or is going: waiting pushes look again, and drop evicted records. */
static void on_guest_changed(void *ctx, struct guest *g, enum guests_change kind) {
  struct control *ctl = ctx;
  struct host_state *st = ctl->st;
  for (struct control_client *cl = ctl->clients; cl; cl = cl->next) {
    for (size_t i = 0; i < cl->ntargets; i++) {
      if (cl->targets[i] != g)
        continue;
      if (kind == GUESTS_EVICTED) {
        cl->targets[i] = NULL;
      } else if (cl->waiting && !failed_since(g, cl->started_ms) && !push_in_sync(&st->push, g)) {
        /* a waited-for guest that reconnected; one in sync has had the push this asked for */
        push_on_request(&st->push, g, cl->force);
      }
      check_wait(cl);
      break;
    }
    if (cl->waiting && !cl->all && !cl->ntargets)
      check_wait(cl);
  }
}

static void control_maybe_free(struct control *ctl) {
  if (ctl->stopping && !ctl->alive && !ctl->listening)
    free(ctl);
}

static void on_listener_closed(struct listener *l) {
  struct control *ctl = l->owner;
  ctl->listening = 0;
  control_maybe_free(ctl);
}

int control_start(struct host_state *st, const char *uri_text, struct control **ret) {
  struct uri uri;
  const char *reason = NULL;
  int err = uri_parse(uri_text, &uri, &reason);
  if (!err && uri.kind == URI_UNIX) {
    char dir[sizeof uri.path];
    snprintf(dir, sizeof dir, "%s", uri.path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
      *slash = 0;
      uv_fs_t req;
      uv_fs_mkdir(NULL, &req, dir, 0755, NULL);
      uv_fs_req_cleanup(&req);
    }
  }
  struct control *ctl = err ? NULL : calloc(1, sizeof *ctl);
  if (!err && !ctl)
    err = UV_ENOMEM;
  /* Only the owner (root for the system service) may drive the host agent. */
  if (!err)
    err =
        listener_start(&ctl->listener, st->loop, &uri, 0600, &control_ops, ctl, on_control_accept);
  if (err) {
    log_error("control socket %s: %s", uri_text, reason ? reason : gpupv_strerror(err));
    free(ctl);
    return err;
  }
  ctl->st = st;
  ctl->listening = 1;
  if (uri.kind == URI_TCP)
    log_warn("control API on %s: any local user can drive the host agent there (for tests; "
             "use unix: or pipe:)",
             uri_text);
  guests_observe(&st->guests, on_guest_changed, ctl);
  log_info("control API on %s", uri_text);
  *ret = ctl;
  return 0;
}

void control_close_stalled(struct control *ctl, uint64_t now_ms, uint64_t timeout_ms) {
  for (struct control_client *cl = ctl->clients; cl; cl = cl->next) {
    if (!cl->c || conn_write_stalled_ms(cl->c, now_ms) < timeout_ms)
      continue;
    log_warn("control client: has read nothing for %llu ms with %zu bytes waiting; closing",
             (unsigned long long)timeout_ms, cl->c->write_queued);
    conn_close(cl->c, UV_ETIMEDOUT);
  }
}

void control_stop(struct control *ctl) {
  ctl->stopping = 1;
  guests_unobserve(&ctl->st->guests, on_guest_changed, ctl);
  listener_close(&ctl->listener, on_listener_closed);
  for (struct control_client *cl = ctl->clients; cl; cl = cl->next)
    if (cl->c)
      conn_close(cl->c, 0);
}
