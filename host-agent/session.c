/* One guest connection on the host: hello, offer, want, blob streaming, installed. */
#include "common/err.h"
#include "common/log.h"
#include "common/text.h"
#include "host-agent/hostd.h"
#include "proto/frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SESSION_WANT_MAX_PER_MSG 1024
#define SESSION_CREDIT_MAX ((uint64_t)1 << 30)
#define SESSION_CHUNK FRAME_DATA_MAX

enum session_state {
  S_HELLO,     /* waiting for the guest's hello */
  S_IDLE,      /* in session, nothing in flight */
  S_OFFERED,   /* offer and manifest sent, collecting want messages */
  S_SENDING,   /* streaming wanted blobs */
  S_INSTALLING /* everything sent, waiting for installed */
};

static const char *const state_names[] = {"hello", "idle", "offered", "sending", "installing"};

struct session {
  struct hostd *h;
  struct conn *c; /* NULL once closed */
  struct guest *guest;
  enum session_state state;
  struct session *next;
  /* the push in flight */
  struct generation *gen;
  uint8_t *wanted; /* per blob of gen: 1 when the guest asked for it */
  size_t *want;    /* blob indices in the order asked */
  size_t nwant, next_want;
  uint64_t credit, bytes_total, bytes_sent, files_sent, started_ms;
  uint64_t wire_start; /* conn bytes_out when the push began */
  /* the blob being sent */
  struct source_reader *reader;
  size_t cur_blob;
  uint64_t cur_left;
  int work_pending;
  uv_work_t work;
  struct chunk_job *job;
  uv_timer_t timer; /* the hello deadline, then the rate limit */
  int timer_closed;
};

struct chunk_job {
  struct session *s;
  const struct source_ref *ref;
  uint64_t size, want;
  struct source_reader *reader; /* in and out */
  uint8_t *mem;
  size_t len;
  int err;
};

static void session_maybe_free(struct session *s);
static void session_pump(struct session *s);

static void session_set_state(struct session *s, enum session_state to) {
  static const unsigned char legal[5][5] = {
      /*             hello idle offered sending installing */
      /* hello */ {0, 1, 0, 0, 0},
      /* idle */ {0, 0, 1, 0, 0},
      /* offered */ {0, 1, 0, 1, 0},
      /* sending */ {0, 1, 0, 0, 1},
      /* installing */ {0, 1, 0, 0, 0},
  };
  if (!legal[s->state][to])
    log_error("%s: illegal session transition %s -> %s", s->c ? s->c->peer : "session",
              state_names[s->state], state_names[to]);
  log_debug("%s: %s -> %s", s->c ? s->c->peer : "session", state_names[s->state], state_names[to]);
  s->state = to;
}

int session_busy(const struct session *s) {
  return s->state == S_OFFERED || s->state == S_SENDING || s->state == S_INSTALLING;
}

void session_progress(const struct session *s, uint64_t *ret_done, uint64_t *ret_total) {
  *ret_done = s->bytes_sent;
  *ret_total = s->bytes_total;
}

/* Ends the push in flight and records how it went. */
static void push_finish(struct session *s, int ok, const char *error) {
  struct guest *g = s->guest;
  if (g && s->gen) {
    struct push_record *r = &g->last_push;
    memset(r, 0, sizeof *r);
    r->ok = ok;
    memcpy(r->generation, s->gen->id_hex, sizeof r->generation);
    r->bytes = s->bytes_sent;
    r->bytes_total = s->bytes_total;
    r->files = s->files_sent;
    r->wire_bytes = s->c ? s->c->bytes_out - s->wire_start : 0;
    r->started_ms = s->started_ms;
    r->finished_ms = hostd_now_ms();
    snprintf(r->error, sizeof r->error, "%s", error ? error : "");
    g->has_last_push = 1;
    g->pushes_total++;
    g->push_failures_total += !ok;
    g->push_bytes_total += r->bytes;
    g->push_ms_total += r->finished_ms - r->started_ms;
    g->has_failed_generation = !ok;
    if (!ok)
      memcpy(g->failed_generation, s->gen->m.id, HASH_LEN);
    double secs = (double)(r->finished_ms - r->started_ms) / 1000.0;
    if (ok)
      log_info("%s: generation %.12s installed: %llu bytes in %.2f s", g->name, r->generation,
               (unsigned long long)r->bytes, secs);
    else
      log_warn("%s: push of generation %.12s failed: %s", g->name, r->generation, r->error);
  }
  source_close(s->reader);
  s->reader = NULL;
  generation_unref(s->gen);
  s->gen = NULL;
  free(s->wanted);
  free(s->want);
  s->wanted = NULL;
  s->want = NULL;
  s->nwant = s->next_want = 0;
}

void session_push(struct session *s, int force) {
  struct hostd *h = s->h;
  struct guest *g = s->guest;
  if (!s->c || s->state != S_IDLE || !h->gen || !g || hostd_guest_in_sync(h, g))
    return;
  if (!force && g->has_failed_generation &&
      memcmp(g->failed_generation, h->gen->m.id, HASH_LEN) == 0)
    return;
  cJSON *offer = msg_new(MSG_OFFER);
  int err = UV_ENOMEM;
  char sig_hex[2 * SIGN_SIG_LEN + 1];
  text_hex_encode(h->gen_signature, SIGN_SIG_LEN, sig_hex);
  if (!offer || !cJSON_AddStringToObject(offer, "generation", h->gen->id_hex) ||
      !cJSON_AddStringToObject(offer, "key", h->key_hex) ||
      !cJSON_AddStringToObject(offer, "signature", sig_hex) ||
      !cJSON_AddNumberToObject(offer, "size", (double)h->gen->encoded.len) ||
      !cJSON_AddStringToObject(offer, "host", h->cfg->name))
    goto out;
  s->gen = generation_ref(h->gen);
  s->wanted = calloc(s->gen->nblobs + 1, 1);
  s->want = malloc((s->gen->nblobs + 1) * sizeof *s->want);
  if (!s->wanted || !s->want)
    goto out;
  s->bytes_total = s->bytes_sent = s->files_sent = s->credit = 0;
  s->started_ms = hostd_now_ms();
  s->wire_start = s->c->bytes_out;
  if ((err = conn_send_msg(s->c, offer)) ||
      (err = conn_send_bytes(s->c, s->gen->encoded.data, s->gen->encoded.len)))
    goto out;
  session_set_state(s, S_OFFERED);
  log_info("%s: offering generation %.12s (%zu files, %llu bytes)", g->name, s->gen->id_hex,
           s->gen->m.nfiles, (unsigned long long)manifest_total_size(&s->gen->m));
  hostd_guest_changed(h, g);
out:
  cJSON_Delete(offer);
  if (err) {
    push_finish(s, 0, gpupv_strerror(err));
    conn_close(s->c, err);
  }
}

static void on_hello(struct session *s, const cJSON *msg) {
  struct hostd *h = s->h;
  uint64_t proto;
  const char *name;
  uint8_t gen[HASH_LEN];
  int has_gen;
  if (msg_get_u64(msg, "proto", 1000000, &proto) || msg_get_str(msg, "name", 63, &name) ||
      msg_get_hash_opt(msg, "generation", gen, &has_gen) || !*name || !text_is_printable(name)) {
    conn_fail(s->c, GPUPV_EFIELD, "hello: missing or invalid proto, name or generation");
    return;
  }
  if (proto != PROTO_VERSION) {
    conn_fail(s->c, GPUPV_EVERSION, "hello: guest speaks protocol %llu, host speaks %d",
              (unsigned long long)proto, PROTO_VERSION);
    return;
  }
  char id[96];
  if (s->c->peer_id[0])
    snprintf(id, sizeof id, "%s", s->c->peer_id);
  else
    snprintf(id, sizeof id, "name:%s", name);
  struct guest *g = hostd_guest_for(h, id);
  if (!g) {
    conn_fail(s->c, GPUPV_ELIMIT, "hello: too many guests");
    return;
  }
  if (g->session) {
    log_info("%s: replaces the older connection of guest %s", s->c->peer, name);
    session_close(g->session, 0);
  }
  g->session = s;
  s->guest = g;
  uv_timer_stop(&s->timer); /* the hello deadline */
  snprintf(g->name, sizeof g->name, "%s", name);
  snprintf(g->transport, sizeof g->transport, "%s", s->c->peer);
  g->has_generation = has_gen;
  if (has_gen)
    memcpy(g->generation, gen, HASH_LEN);
  g->connected_ms = g->last_seen_ms = hostd_now_ms();
  const cJSON *status = cJSON_GetObjectItemCaseSensitive(msg, "status");
  if (cJSON_IsObject(status)) {
    cJSON_Delete(g->report);
    g->report = cJSON_Duplicate(status, 1);
  }
  snprintf(s->c->peer, sizeof s->c->peer, "guest %.40s (%.70s)", name, g->transport);
  cJSON *welcome = msg_new(MSG_WELCOME);
  if (!welcome || !cJSON_AddNumberToObject(welcome, "proto", PROTO_VERSION) ||
      !cJSON_AddStringToObject(welcome, "host", h->cfg->name) ||
      !cJSON_AddItemToObject(welcome, "caps", cJSON_CreateArray()) ||
      conn_send_msg(s->c, welcome)) {
    cJSON_Delete(welcome);
    conn_close(s->c, UV_ENOMEM);
    return;
  }
  cJSON_Delete(welcome);
  session_set_state(s, S_IDLE);
  char hex[HASH_HEX_LEN + 1] = "none";
  if (has_gen)
    hash_to_hex(gen, hex);
  log_info("%s: connected, installed generation %.12s", s->c->peer, hex);
  hostd_guest_changed(h, g);
  if (!h->cfg->no_auto_push)
    session_push(s, 0);
}

/* Errors close the session and are already logged. */
static int on_want(struct session *s, const cJSON *msg) {
  uint8_t gen[HASH_LEN];
  uint64_t window = 0;
  int more;
  const cJSON *hashes = cJSON_GetObjectItemCaseSensitive(msg, "hashes");
  if (msg_get_hash(msg, "generation", gen) || msg_get_bool(msg, "more", &more) ||
      !cJSON_IsArray(hashes) || cJSON_GetArraySize(hashes) > SESSION_WANT_MAX_PER_MSG ||
      (cJSON_GetObjectItemCaseSensitive(msg, "window") &&
       msg_get_u64(msg, "window", SESSION_CREDIT_MAX, &window))) {
    conn_fail(s->c, GPUPV_EFIELD, "want: invalid generation, hashes, more or window");
    return GPUPV_EFIELD;
  }
  if (memcmp(gen, s->gen->m.id, HASH_LEN) != 0) {
    conn_fail(s->c, GPUPV_EPROTO, "want: names a generation that was not offered");
    return GPUPV_EPROTO;
  }
  const cJSON *item;
  cJSON_ArrayForEach(item, hashes) {
    uint8_t hash[HASH_LEN];
    long b = cJSON_IsString(item) && !hash_from_hex(item->valuestring, hash)
                 ? manifest_blob_find(s->gen->blobs, s->gen->nblobs, hash)
                 : -1;
    if (b < 0 || s->wanted[b]) {
      conn_fail(s->c, GPUPV_EPROTO, "want: a hash that is not in the manifest, or asked twice");
      return GPUPV_EPROTO;
    }
    s->wanted[b] = 1;
    s->want[s->nwant++] = (size_t)b;
    s->bytes_total += s->gen->blobs[b].size;
  }
  s->credit += window;
  if (more)
    return 0;
  session_set_state(s, S_SENDING);
  log_info("%s: guest lacks %zu of %zu blobs, %llu bytes", s->c->peer, s->nwant, s->gen->nblobs,
           (unsigned long long)s->bytes_total);
  session_pump(s);
  return 0;
}

static void on_installed(struct session *s, const cJSON *msg) {
  uint8_t gen[HASH_LEN];
  int ok;
  const char *error = NULL;
  if (msg_get_hash(msg, "generation", gen) || msg_get_bool(msg, "ok", &ok) ||
      msg_get_str_opt(msg, "error", 200, &error)) {
    conn_fail(s->c, GPUPV_EFIELD, "installed: invalid generation, ok or error");
    return;
  }
  if (memcmp(gen, s->gen->m.id, HASH_LEN) != 0) {
    conn_fail(s->c, GPUPV_EPROTO, "installed: names a generation that was not offered");
    return;
  }
  struct guest *g = s->guest;
  if (ok) {
    memcpy(g->generation, gen, HASH_LEN);
    g->has_generation = 1;
  }
  const cJSON *status = cJSON_GetObjectItemCaseSensitive(msg, "status");
  if (cJSON_IsObject(status)) {
    cJSON_Delete(g->report);
    g->report = cJSON_Duplicate(status, 1);
  }
  push_finish(s, ok, ok ? NULL : (error ? error : "guest reported a failure"));
  session_set_state(s, S_IDLE);
  g->last_seen_ms = hostd_now_ms();
  hostd_guest_changed(s->h, g);
  if (!s->h->cfg->no_auto_push)
    session_push(s, 0); /* the host may have published again meanwhile */
}

static int session_on_control(struct conn *c, enum msg_type type, const cJSON *msg) {
  struct session *s = c->owner;
  if (type == MSG_ERROR) {
    const char *text = NULL;
    msg_get_str_opt(msg, "message", 512, &text);
    log_warn("%s: guest reports an error: %s", c->peer, text ? text : "(no message)");
    if (session_busy(s))
      push_finish(s, 0, text ? text : "guest reported an error");
    conn_close(c, GPUPV_EPROTO);
    return 0;
  }
  if (s->state == S_HELLO) {
    if (type != MSG_HELLO) {
      conn_fail(c, GPUPV_EORDER, "expected hello, got %s", msg_type_name(type));
      return 0;
    }
    on_hello(s, msg);
    return 0;
  }
  if (s->guest)
    s->guest->last_seen_ms = hostd_now_ms();
  switch (type) {
  case MSG_REPORT: {
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(msg, "status");
    if (!cJSON_IsObject(status)) {
      conn_fail(c, GPUPV_EFIELD, "report: missing status object");
      return 0;
    }
    cJSON_Delete(s->guest->report);
    s->guest->report = cJSON_Duplicate(status, 1);
    hostd_guest_changed(s->h, s->guest);
    return 0;
  }
  case MSG_WANT:
    if (s->state == S_OFFERED) {
      on_want(s, msg);
      return 0;
    }
    break;
  case MSG_CREDIT:
    if (s->state == S_SENDING || s->state == S_INSTALLING) {
      uint64_t bytes;
      if (msg_get_u64(msg, "bytes", SESSION_CREDIT_MAX, &bytes)) {
        conn_fail(c, GPUPV_EFIELD, "credit: invalid bytes");
        return 0;
      }
      if (s->credit + bytes > SESSION_CREDIT_MAX) {
        conn_fail(c, GPUPV_ELIMIT, "credit: window grows past %llu bytes",
                  (unsigned long long)SESSION_CREDIT_MAX);
        return 0;
      }
      s->credit += bytes;
      session_pump(s);
      return 0;
    }
    break;
  case MSG_INSTALLED:
    if (s->state == S_OFFERED || s->state == S_SENDING || s->state == S_INSTALLING) {
      on_installed(s, msg);
      return 0;
    }
    break;
  default:
    break;
  }
  conn_fail(c, GPUPV_EORDER, "%s is not expected while %s", msg_type_name(type),
            state_names[s->state]);
  return 0;
}

static int session_on_data(struct conn *c, const uint8_t *data, size_t len) {
  (void)data, (void)len;
  conn_fail(c, GPUPV_EORDER, "a guest never sends data frames");
  return 0;
}

static void session_on_drain(struct conn *c) {
  session_pump(c->owner);
}

static void session_on_close(struct conn *c, int reason) {
  struct session *s = c->owner;
  struct guest *g = s->guest;
  s->c = NULL;
  if (session_busy(s))
    push_finish(s, 0, reason ? gpupv_strerror(reason) : "connection closed");
  if (g && g->session == s) {
    g->session = NULL;
    g->last_seen_ms = hostd_now_ms();
    log_info("guest %s disconnected%s%s", g->name, reason && reason != UV_EOF ? ": " : "",
             reason && reason != UV_EOF ? gpupv_strerror(reason) : "");
    hostd_guest_changed(s->h, g);
  }
  s->guest = NULL;
  session_maybe_free(s);
}

static const struct conn_ops session_ops = {session_on_control, session_on_data, session_on_drain,
                                            session_on_close};

static void chunk_work(uv_work_t *w) {
  struct chunk_job *j = w->data;
  if (!j->reader && (j->err = source_open(j->ref, j->size, &j->reader)))
    return;
  ssize_t n = source_read(j->reader, j->mem + FRAME_HEADER_LEN, j->want);
  if (n < 0)
    j->err = (int)n;
  else if ((uint64_t)n != j->want)
    j->err = UV_EAGAIN; /* shorter than scanned: the source changed */
  else
    j->len = (size_t)n;
}

static void chunk_done(uv_work_t *w, int status) {
  struct chunk_job *j = w->data;
  struct session *s = j->s;
  s->work_pending = 0;
  s->job = NULL;
  int err = status ? status : j->err;
  if (!s->c || !s->gen) {
    source_close(j->reader);
    free(j->mem);
    free(j);
    session_maybe_free(s);
    return;
  }
  s->reader = j->reader;
  if (err) {
    const struct source_ref *ref = generation_blob_ref(s->gen, s->cur_blob);
    char text[512];
    snprintf(text, sizeof text, "host cannot read %s%s%s: %s", ref->path, ref->member ? "!" : "",
             ref->member ? ref->member : "",
             err == UV_EAGAIN ? "it changed since the scan" : gpupv_strerror(err));
    free(j->mem);
    free(j);
    push_finish(s, 0, text);
    conn_fail(s->c, err, "%s", text);
    hostd_rescan(s->h, NULL, NULL);
    return;
  }
  size_t len = j->len;
  uint8_t *mem = j->mem;
  free(j);
  s->credit -= len;
  s->cur_left -= len;
  s->bytes_sent += len;
  if ((err = conn_send_data(s->c, mem, len))) {
    conn_close(s->c, err);
    return;
  }
  session_pump(s);
}

static void on_rate_timer(uv_timer_t *t) {
  session_pump(t->data);
}

/* Milliseconds to wait before the next chunk under --max-rate, or 0 to go on. */
static uint64_t rate_delay(const struct session *s) {
  uint64_t rate = (uint64_t)s->h->cfg->max_rate;
  if (!rate)
    return 0;
  uint64_t allowed_ms = s->bytes_sent * 1000 / rate;
  uint64_t elapsed = hostd_now_ms() - s->started_ms;
  return allowed_ms > elapsed ? allowed_ms - elapsed : 0;
}

static int start_blob(struct session *s) {
  s->cur_blob = s->want[s->next_want++];
  const struct manifest_blob *b = &s->gen->blobs[s->cur_blob];
  cJSON *msg = msg_new(MSG_BLOB);
  int err = UV_ENOMEM;
  if (msg && !msg_add_hash(msg, "sha256", b->sha256) &&
      cJSON_AddNumberToObject(msg, "size", (double)b->size))
    err = conn_send_msg(s->c, msg);
  cJSON_Delete(msg);
  s->cur_left = b->size;
  s->files_sent++;
  return err;
}

static void session_pump(struct session *s) {
  while (s->c && s->state == S_SENDING && !s->work_pending &&
         s->c->write_queued < CONN_HIGH_WATER) {
    if (s->cur_left == 0) {
      source_close(s->reader);
      s->reader = NULL;
      if (s->next_want == s->nwant) {
        session_set_state(s, S_INSTALLING);
        hostd_guest_changed(s->h, s->guest);
        return;
      }
      int err = start_blob(s);
      if (err) {
        conn_close(s->c, err);
        return;
      }
      continue;
    }
    uint64_t chunk = s->cur_left < SESSION_CHUNK ? s->cur_left : SESSION_CHUNK;
    if (s->credit < chunk)
      return; /* the guest's next credit message resumes us */
    uint64_t delay = rate_delay(s);
    if (delay) {
      uv_timer_start(&s->timer, on_rate_timer, delay, 0);
      return;
    }
    const struct manifest_blob *b = &s->gen->blobs[s->cur_blob];
    struct chunk_job *j = calloc(1, sizeof *j);
    if (!j || !(j->mem = malloc(FRAME_HEADER_LEN + chunk))) {
      free(j);
      conn_close(s->c, UV_ENOMEM);
      return;
    }
    j->s = s;
    j->ref = generation_blob_ref(s->gen, s->cur_blob);
    j->size = b->size;
    j->want = chunk;
    j->reader = s->reader;
    s->reader = NULL; /* the job owns it until it is done */
    s->work.data = j;
    s->job = j;
    s->work_pending = 1;
    int err = uv_queue_work(s->h->loop, &s->work, chunk_work, chunk_done);
    if (err) {
      s->work_pending = 0;
      s->reader = j->reader;
      free(j->mem);
      free(j);
      conn_close(s->c, err);
      return;
    }
  }
}

static void on_timer_closed(uv_handle_t *h) {
  struct session *s = h->data;
  s->timer_closed = 1;
  session_maybe_free(s);
}

static void session_maybe_free(struct session *s) {
  if (s->c || s->work_pending)
    return;
  if (!uv_is_closing((uv_handle_t *)&s->timer)) {
    uv_close((uv_handle_t *)&s->timer, on_timer_closed);
    return;
  }
  if (!s->timer_closed)
    return;
  struct session **p = &s->h->sessions;
  while (*p && *p != s)
    p = &(*p)->next;
  if (*p)
    *p = s->next;
  s->h->nsessions--;
  push_finish(s, 0, NULL);
  free(s);
}

static void on_hello_deadline(uv_timer_t *t) {
  struct session *s = t->data;
  if (s->c && s->state == S_HELLO)
    conn_fail(s->c, GPUPV_EPROTO, "no hello within %ld ms", s->h->cfg->hello_timeout_ms);
}

struct session *session_new(struct hostd *h, struct conn *c) {
  if (h->nsessions >= (size_t)h->cfg->max_connections) {
    log_warn("%s: refused: already %ld guest connections", c->peer, h->cfg->max_connections);
    return NULL;
  }
  struct session *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->h = h;
  s->c = c;
  s->state = S_HELLO;
  uv_timer_init(h->loop, &s->timer);
  s->timer.data = s;
  uv_timer_start(&s->timer, on_hello_deadline, (uint64_t)h->cfg->hello_timeout_ms, 0);
  h->nsessions++;
  c->ops = &session_ops;
  c->owner = s;
  s->next = h->sessions;
  h->sessions = s;
  return s;
}

void session_close(struct session *s, int reason) {
  if (s->c)
    conn_close(s->c, reason);
}

void session_close_all(struct hostd *h) {
  for (struct session *s = h->sessions; s; s = s->next)
    session_close(s, 0);
}
