/* The control API on a local socket: status, manifest and push for the gpupv CLI. */
#include "common/err.h"
#include "common/log.h"
#include "host-agent/hostd.h"
#include "proto/frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONTROL_TICK_MS 250
#define CONTROL_MAX_TARGETS HOSTD_MAX_GUESTS

struct control_client {
  struct hostd *h;
  struct conn *c; /* NULL once closed */
  struct control_client *next;
  int scan_pending;
  /* a push being waited for */
  int waiting, wait, all;
  char guest_name[64];
  struct guest *targets[CONTROL_MAX_TARGETS];
  size_t ntargets;
  uint64_t started_ms, deadline_ms;
  uv_timer_t timer;
  int timer_closed;
};

static void client_maybe_free(struct control_client *cl);

static void send_or_close(struct control_client *cl, cJSON *msg) {
  if (!msg || !cl->c || conn_send_msg(cl->c, msg))
    if (cl->c)
      conn_close(cl->c, UV_ENOMEM);
  cJSON_Delete(msg);
}

static void push_result(struct control_client *cl, int ok, const char *error, cJSON *guests) {
  cJSON *msg = msg_new(MSG_PUSH_RESULT);
  cJSON_AddBoolToObject(msg, "ok", ok);
  cJSON_AddItemToObject(msg, "generation",
                        cl->h->gen ? cJSON_CreateString(cl->h->gen->id_hex) : cJSON_CreateNull());
  cJSON_AddItemToObject(msg, "error", error ? cJSON_CreateString(error) : cJSON_CreateNull());
  cJSON_AddItemToObject(msg, "guests", guests ? guests : cJSON_CreateArray());
  send_or_close(cl, msg);
  cl->waiting = 0;
  uv_timer_stop(&cl->timer);
}

static cJSON *target_json(const struct hostd *h, const struct guest *g, const char *error) {
  cJSON *o = cJSON_CreateObject();
  uint64_t done = 0, total = 0;
  if (g && g->session && session_busy(g->session))
    session_progress(g->session, &done, &total);
  cJSON_AddStringToObject(o, "name", g ? g->name : "");
  cJSON_AddBoolToObject(o, "connected", g && g->session);
  cJSON_AddBoolToObject(o, "in_sync", g && hostd_guest_in_sync(h, g));
  cJSON_AddNumberToObject(o, "bytes_done", (double)done);
  cJSON_AddNumberToObject(o, "bytes_total", (double)total);
  if (g && g->has_last_push) {
    cJSON_AddNumberToObject(o, "last_push_bytes", (double)g->last_push.bytes);
    cJSON_AddNumberToObject(o, "last_push_ms",
                            (double)(g->last_push.finished_ms - g->last_push.started_ms));
  }
  cJSON_AddItemToObject(o, "error", error ? cJSON_CreateString(error) : cJSON_CreateNull());
  return o;
}

/* Resolves a named target that had not connected when the push was asked for. */
static void resolve_named(struct control_client *cl) {
  if (cl->all || cl->ntargets)
    return;
  struct guest *g = hostd_find_guest(cl->h, cl->guest_name);
  if (g)
    cl->targets[cl->ntargets++] = g;
}

/* Decides a waited push: every target in sync, or one failed, or the deadline passed. */
static void check_wait(struct control_client *cl) {
  if (!cl->waiting || !cl->c)
    return;
  struct hostd *h = cl->h;
  resolve_named(cl);
  int pending = 0, failed = 0;
  uint64_t now = hostd_now_ms();
  int late = cl->deadline_ms && now >= cl->deadline_ms;
  cJSON *guests = cJSON_CreateArray();
  char first_error[600] = "";
  if (!cl->ntargets && !cl->all) { /* --all with nobody connected has nothing to wait for */
    pending = 1;
    if (late)
      snprintf(first_error, sizeof first_error, "guest %s never connected", cl->guest_name);
  }
  for (size_t i = 0; i < cl->ntargets; i++) {
    struct guest *g = cl->targets[i];
    char error[300] = "";
    if (hostd_guest_in_sync(h, g)) {
      /* done */
    } else if (g->has_last_push && !g->last_push.ok && g->last_push.finished_ms >= cl->started_ms &&
               !(g->session && session_busy(g->session))) {
      snprintf(error, sizeof error, "%s", g->last_push.error);
      failed = 1;
    } else {
      pending = 1;
      if (late)
        snprintf(error, sizeof error, "%s", g->session ? "timed out" : "not connected");
    }
    if (*error && !*first_error)
      snprintf(first_error, sizeof first_error, "%s: %s", g->name, error);
    cJSON_AddItemToArray(guests, target_json(h, g, *error ? error : NULL));
  }
  if (!h->gen) {
    pending = 0;
    failed = 1;
    snprintf(first_error, sizeof first_error, "the host has nothing to publish: %s",
             h->scan_error[0] ? h->scan_error : "no scan has succeeded");
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
  cJSON *msg = msg_new(MSG_PROGRESS);
  cJSON *guests = cJSON_AddArrayToObject(msg, "guests");
  uint64_t done = 0, total = 0;
  for (size_t i = 0; i < cl->ntargets; i++) {
    cJSON *t = target_json(cl->h, cl->targets[i], NULL);
    done += (uint64_t)cJSON_GetObjectItem(t, "bytes_done")->valuedouble;
    total += (uint64_t)cJSON_GetObjectItem(t, "bytes_total")->valuedouble;
    cJSON_AddItemToArray(guests, t);
  }
  cJSON_AddNumberToObject(msg, "bytes_done", (double)done);
  cJSON_AddNumberToObject(msg, "bytes_total", (double)total);
  cJSON_AddNumberToObject(msg, "elapsed_ms", (double)(hostd_now_ms() - cl->started_ms));
  send_or_close(cl, msg);
}

static void on_tick(uv_timer_t *t) {
  struct control_client *cl = t->data;
  if (!cl->waiting)
    return;
  send_progress(cl);
  check_wait(cl);
}

static void push_targets(struct control_client *cl) {
  for (size_t i = 0; i < cl->ntargets; i++)
    if (cl->targets[i]->session)
      session_push(cl->targets[i]->session, 1);
}

static void on_push_scanned(void *ctx, int err, const char *text) {
  struct control_client *cl = ctx;
  struct hostd *h = cl->h;
  cl->scan_pending = 0;
  if (!cl->c) {
    client_maybe_free(cl);
    return;
  }
  if (err) {
    push_result(cl, 0, text, NULL);
    return;
  }
  cl->started_ms = hostd_now_ms();
  cl->ntargets = 0;
  if (cl->all) {
    for (size_t i = 0; i < h->nguests && cl->ntargets < CONTROL_MAX_TARGETS; i++)
      if (h->guests[i]->session)
        cl->targets[cl->ntargets++] = h->guests[i];
  } else {
    resolve_named(cl);
  }
  push_targets(cl);
  if (!cl->wait) {
    cJSON *guests = cJSON_CreateArray();
    for (size_t i = 0; i < cl->ntargets; i++)
      cJSON_AddItemToArray(guests, target_json(h, cl->targets[i], NULL));
    int missing = !cl->all && (!cl->ntargets || !cl->targets[0]->session);
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
  if (msg_get_str_opt(msg, "guest", 63, &guest) || msg_get_bool(msg, "wait", &cl->wait) ||
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
  cl->deadline_ms = timeout_ms ? hostd_now_ms() + timeout_ms : 0;
  cl->scan_pending = 1;
  hostd_rescan(cl->h, on_push_scanned, cl);
}

static void on_get_manifest(struct control_client *cl) {
  const struct generation *g = cl->h->gen;
  cJSON *msg = msg_new(MSG_MANIFEST);
  cJSON_AddItemToObject(msg, "generation", g ? cJSON_CreateString(g->id_hex) : cJSON_CreateNull());
  cJSON_AddNumberToObject(msg, "size", g ? (double)g->encoded.len : 0);
  send_or_close(cl, msg);
  int err = g && cl->c ? conn_send_bytes(cl->c, g->encoded.data, g->encoded.len) : 0;
  if (err && cl->c)
    conn_close(cl->c, err);
}

static int control_on_control(struct conn *c, enum msg_type type, const cJSON *msg) {
  struct control_client *cl = c->owner;
  switch (type) {
  case MSG_GET_STATUS: {
    cJSON *status = status_json(cl->h);
    cJSON_AddStringToObject(status, "type", msg_type_name(MSG_STATUS));
    send_or_close(cl, status);
    return 0;
  }
  case MSG_GET_MANIFEST:
    on_get_manifest(cl);
    return 0;
  case MSG_PUSH:
    on_push(cl, msg);
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
  if (cl->timer_closed)
    free(cl);
}

static void control_on_close(struct conn *c, int reason) {
  (void)reason;
  struct control_client *cl = c->owner;
  struct control_client **p = &cl->h->clients;
  while (*p && *p != cl)
    p = &(*p)->next;
  if (*p)
    *p = cl->next;
  cl->c = NULL;
  cl->waiting = 0;
  client_maybe_free(cl);
}

static const struct conn_ops control_ops = {control_on_control, control_on_data, NULL,
                                            control_on_close};

static void on_control_accept(struct listener *l, struct conn *c) {
  struct hostd *h = l->owner;
  struct control_client *cl = h->stopping ? NULL : calloc(1, sizeof *cl);
  if (!cl) {
    conn_close(c, 0);
    return;
  }
  cl->h = h;
  cl->c = c;
  c->owner = cl;
  uv_timer_init(h->loop, &cl->timer);
  cl->timer.data = cl;
  cl->next = h->clients;
  h->clients = cl;
  snprintf(c->peer, sizeof c->peer, "control client");
  conn_start(c);
}

int control_start(struct hostd *h, const char *uri_text) {
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
  /* Only the owner (root for the system service) may drive the host agent. */
  if (!err)
    err = listener_start(&h->control, h->loop, &uri, 0600, &control_ops, h, on_control_accept);
  if (err) {
    log_error("control socket %s: %s", uri_text, reason ? reason : gpupv_strerror(err));
    return err;
  }
  h->control_open = 1;
  log_info("control API on %s", uri_text);
  return 0;
}

void control_close_all(struct hostd *h) {
  if (h->control_open)
    listener_close(&h->control, NULL);
  h->control_open = 0;
  for (struct control_client *cl = h->clients; cl; cl = cl->next)
    if (cl->c)
      conn_close(cl->c, 0);
}

void control_guest_changed(struct hostd *h, struct guest *g) {
  for (struct control_client *cl = h->clients; cl; cl = cl->next) {
    if (!cl->waiting)
      continue;
    resolve_named(cl);
    for (size_t i = 0; i < cl->ntargets; i++) {
      if (cl->targets[i] != g)
        continue;
      if (g->session && !session_busy(g->session) && !hostd_guest_in_sync(h, g) &&
          !(g->has_last_push && !g->last_push.ok && g->last_push.finished_ms >= cl->started_ms))
        session_push(g->session, 1);
      check_wait(cl);
      break;
    }
  }
}
