#include "host-agent/session.h"

#include "common/err.h"
#include "common/log.h"
#include "common/peer-text.h"
#include "common/text.h"
#include "host-agent/transfer.h"
#include "proto/frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SESSION_CHUNK FRAME_DATA_MAX
/* installed.error and error.message: longer text is cut for display, never refused */
#define SESSION_TEXT_MAX (GUEST_ERROR_MAX - 1)

enum session_state {
  S_HELLO,      /* waiting for the guest's hello */
  S_IDLE,       /* in session, nothing in flight */
  S_OFFERED,    /* offer and manifest sent, collecting want messages */
  S_SENDING,    /* streaming wanted blobs */
  S_INSTALLING, /* every wanted blob sent, waiting for installed */
  S_CLOSED,
  S__COUNT
};

static const char *const state_names[] = {"hello",   "idle",       "offered",
                                          "sending", "installing", "closed"};

struct session {
  const struct session_env *env;
  struct conn *c; /* NULL once closed */
  struct guest *guest;
  enum session_state state;
  struct session *next;
  struct transfer *t; /* the push in flight, or NULL */
  int system_files;   /* the guest places system files: it is offered the full form */
  int work_pending;
  uv_work_t work;
  uv_timer_t timer; /* the hello deadline, then the rate limit */
  int timer_closed;
  char label[200]; /* for log lines: cleaned */
};

struct chunk_job {
  struct session *s;
  struct transfer *t; /* a reference */
  const struct source_ref *ref;
  uint64_t size, want;
  struct source_reader *reader; /* in and out */
  uint8_t *mem;
  size_t len;
  int err;
};

static void session_maybe_free(struct session *s);
static void session_pump(struct session *s);

/* The legal moves; everything else is a programming error. */
static const unsigned char legal_moves[S__COUNT][S__COUNT] = {
    /*               hello idle offered sending installing closed */
    [S_HELLO] = {0, 1, 0, 0, 0, 1},      [S_IDLE] = {0, 0, 1, 0, 0, 1},
    [S_OFFERED] = {0, 1, 0, 1, 0, 1},    [S_SENDING] = {0, 1, 0, 0, 1, 1},
    [S_INSTALLING] = {0, 1, 0, 0, 0, 1}, [S_CLOSED] = {0, 0, 0, 0, 0, 0},
};

static void set_state(struct session *s, enum session_state to) {
  if (!legal_moves[s->state][to])
    log_error("%s: illegal session transition %s -> %s", s->label, state_names[s->state],
              state_names[to]);
  log_debug("%s: %s -> %s", s->label, state_names[s->state], state_names[to]);
  s->state = to;
}

int session_busy(const struct session *s) {
  return s->state == S_OFFERED || s->state == S_SENDING || s->state == S_INSTALLING;
}

const char *session_phase(const struct session *s) {
  switch (s->state) {
  case S_OFFERED:
  case S_SENDING:
  case S_INSTALLING:
    return state_names[s->state];
  default:
    return "idle";
  }
}

void session_progress(const struct session *s, uint64_t *ret_done, uint64_t *ret_total) {
  *ret_done = s->t ? s->t->bytes_sent : 0;
  *ret_total = s->t ? s->t->bytes_total : 0;
}

void session_fail(struct session *s, int err, const char *code, const char *text) {
  if (s->c)
    conn_fail_code(s->c, err, code, "%s", text);
}

void session_notice(struct session *s, const char *code, const char *text) {
  cJSON *msg = msg_new(MSG_NOTICE);
  if (s->c && msg && cJSON_AddStringToObject(msg, "code", code) &&
      cJSON_AddStringToObject(msg, "message", text))
    conn_send_msg(s->c, msg);
  cJSON_Delete(msg);
}

/* Ends the push in flight, if any, and reports how it went. error is peer text or ours. */
static void push_finish(struct session *s, int ok, const char *error, const char *warning) {
  struct transfer *t = s->t;
  if (!t)
    return;
  s->t = NULL;
  t->ended = 1;
  if (s->guest) {
    struct push_record *r = calloc(1, sizeof *r);
    if (r) {
      r->ok = ok;
      memcpy(r->generation, t->gen->id_hex, sizeof r->generation); /* whatever its form */
      r->bytes = t->bytes_sent;
      r->bytes_total = t->bytes_total;
      r->files = t->files_sent;
      r->wire_bytes = s->c ? s->c->bytes_out - t->wire_start : 0;
      r->started_ms = t->started_ms;
      r->finished_ms = guests_now_ms();
      guests_clean_error(error, r->error);
      guests_clean_error(warning, r->warning);
      s->env->on_push_finished(s->env->ctx, s->guest, r, ok ? t->form.id : NULL);
      free(r);
    }
  }
  transfer_unref(t);
}

int session_push(struct session *s) {
  const struct session_offer *o = s->env->offer;
  if (!s->c || s->state != S_IDLE || !o->gen)
    return UV_EBUSY;
  /* a guest that places system files gets them; any other the plain form it understands */
  struct generation_form form = generation_form(o->gen, s->system_files);
  const char *signature = s->system_files ? o->signature_hex : o->plain_signature_hex;
  cJSON *offer = msg_new(MSG_OFFER);
  int err = UV_ENOMEM;
  if (!offer || !cJSON_AddStringToObject(offer, "generation", form.id_hex) ||
      !cJSON_AddStringToObject(offer, "key", o->key_hex) ||
      !cJSON_AddStringToObject(offer, "signature", signature) ||
      !cJSON_AddNumberToObject(offer, "size", (double)form.encoded->len) ||
      !cJSON_AddStringToObject(offer, "host", o->host_name))
    goto out;
  if (!(s->t = transfer_new(o->gen, s->system_files, guests_now_ms())))
    goto out;
  s->t->wire_start = s->c->bytes_out;
  if ((err = conn_send_msg(s->c, offer)) ||
      (err = conn_send_bytes(s->c, form.encoded->data, form.encoded->len)))
    goto out;
  set_state(s, S_OFFERED);
  log_info("%s: offering generation %.12s (%zu files, %llu bytes%s)", s->label, form.id_hex,
           o->gen->m.nfiles, (unsigned long long)manifest_total_size(&o->gen->m),
           s->system_files || !o->gen->m.nsystem ? "" : "; without its system files");
  s->env->on_push_progress(s->env->ctx, s->guest);
out:
  cJSON_Delete(offer);
  if (err) {
    push_finish(s, 0, gpupv_strerror(err), NULL);
    conn_close(s->c, err);
  }
  return err;
}

/* ---- the messages a guest may send, each in the states that allow it ---- */

static cJSON *host_caps(void) {
  cJSON *caps = cJSON_CreateArray();
  if (caps)
    cJSON_AddItemToArray(caps, cJSON_CreateString(PROTO_CAP_SYSTEM_FILES));
  return caps;
}

static int on_hello(struct session *s, const cJSON *msg) {
  const struct session_env *env = s->env;
  uint64_t proto;
  const char *name;
  uint8_t gen[HASH_LEN], pin[HASH_LEN];
  int has_gen, has_pin, system_files;
  if (msg_get_u64(msg, "proto", 1000000, &proto) || msg_get_str(msg, "name", 63, &name) ||
      msg_get_hash_opt(msg, "generation", gen, &has_gen) ||
      msg_get_hash_opt(msg, "pinned", pin, &has_pin) || !*name ||
      msg_get_cap(msg, PROTO_CAP_SYSTEM_FILES, &system_files)) {
    conn_fail(s->c, GPUPV_EFIELD, "hello: missing or invalid proto, name, generation or caps");
    return GPUPV_EFIELD;
  }
  if (proto != PROTO_VERSION) {
    conn_fail(s->c, GPUPV_EVERSION, "hello: guest speaks protocol %llu, host speaks %d",
              (unsigned long long)proto, PROTO_VERSION);
    return GPUPV_EVERSION;
  }
  char id[GUEST_ID_MAX], transport[128], clean_name[GUEST_NAME_MAX];
  /* the id is shown and saved: built from the cleaned name, never the raw one */
  peer_text_clean(name, strlen(name), clean_name, sizeof clean_name);
  if (s->c->peer_id[0])
    snprintf(id, sizeof id, "%s", s->c->peer_id);
  else
    snprintf(id, sizeof id, "name:%.90s", clean_name);
  text_copy(transport, sizeof transport, s->c->peer);
  const cJSON *status = cJSON_GetObjectItemCaseSensitive(msg, "status");
  const struct session_hello hello = {id,
                                      name,
                                      transport,
                                      has_gen ? gen : NULL,
                                      has_pin ? pin : NULL,
                                      cJSON_IsObject(status) ? status : NULL,
                                      system_files,
                                      s->c->has_peer_key ? s->c->peer_key : NULL};
  int err = GPUPV_ELIMIT;
  char why[256] = "refused";
  const char *code = NULL;
  struct guest *g = env->on_hello(env->ctx, s, &hello, &err, why, sizeof why, &code);
  if (!g) {
    conn_fail_code(s->c, err, code, "hello: %s", why);
    return err;
  }
  s->guest = g;
  s->system_files = system_files;
  uv_timer_stop(&s->timer); /* the hello deadline */
  snprintf(s->label, sizeof s->label, "guest \"%.100s\" (%.80s)", g->name, transport);
  cJSON *welcome = msg_new(MSG_WELCOME);
  if (!welcome || !cJSON_AddNumberToObject(welcome, "proto", PROTO_VERSION) ||
      !cJSON_AddStringToObject(welcome, "host", env->offer->host_name) ||
      !cJSON_AddItemToObject(welcome, "caps", host_caps()) || conn_send_msg(s->c, welcome)) {
    cJSON_Delete(welcome);
    conn_close(s->c, UV_ENOMEM);
    return UV_ENOMEM;
  }
  cJSON_Delete(welcome);
  set_state(s, S_IDLE);
  char hex[HASH_HEX_LEN + 1] = "none";
  if (has_gen)
    hash_to_hex(gen, hex);
  log_info("%s: connected, installed generation %.12s", s->label, hex);
  env->on_ready(env->ctx, g);
  return 0;
}

static int on_want(struct session *s, const cJSON *msg) {
  struct transfer *t = s->t;
  uint8_t gen[HASH_LEN];
  uint64_t window = 0;
  int more;
  const cJSON *hashes = cJSON_GetObjectItemCaseSensitive(msg, "hashes");
  if (msg_get_hash(msg, "generation", gen) || msg_get_bool(msg, "more", &more) ||
      !cJSON_IsArray(hashes) || cJSON_GetArraySize(hashes) > SESSION_WANT_MAX_PER_MSG ||
      (cJSON_GetObjectItemCaseSensitive(msg, "window") &&
       msg_get_u64(msg, "window", MSG_U64_MAX, &window))) {
    conn_fail(s->c, GPUPV_EFIELD, "want: invalid generation, hashes, more or window");
    return GPUPV_EFIELD;
  }
  if (memcmp(gen, t->form.id, HASH_LEN) != 0) {
    conn_fail(s->c, GPUPV_EPROTO, "want: names a generation that was not offered");
    return GPUPV_EPROTO;
  }
  const cJSON *item;
  cJSON_ArrayForEach(item, hashes) {
    uint8_t hash[HASH_LEN];
    if (!cJSON_IsString(item) || hash_from_hex(item->valuestring, hash) || transfer_want(t, hash)) {
      conn_fail(s->c, GPUPV_EPROTO, "want: a hash that is not in the manifest, or asked twice");
      return GPUPV_EPROTO;
    }
  }
  if (transfer_add_credit(t, window)) {
    conn_fail(s->c, GPUPV_ELIMIT, "want: the window grows the credit past %llu bytes",
              (unsigned long long)TRANSFER_CREDIT_MAX);
    return GPUPV_ELIMIT;
  }
  if (more)
    return 0;
  set_state(s, S_SENDING);
  log_info("%s: guest lacks %zu of %zu blobs, %llu bytes", s->label, t->nwant, t->gen->nblobs,
           (unsigned long long)t->bytes_total);
  s->env->on_push_progress(s->env->ctx, s->guest);
  session_pump(s);
  return 0;
}

static int on_credit(struct session *s, const cJSON *msg) {
  uint64_t bytes;
  if (msg_get_u64(msg, "bytes", MSG_U64_MAX, &bytes)) {
    conn_fail(s->c, GPUPV_EFIELD, "credit: invalid bytes");
    return GPUPV_EFIELD;
  }
  if (transfer_add_credit(s->t, bytes)) {
    conn_fail(s->c, GPUPV_ELIMIT, "credit: grows past %llu bytes outstanding",
              (unsigned long long)TRANSFER_CREDIT_MAX);
    return GPUPV_ELIMIT;
  }
  session_pump(s);
  return 0;
}

static int on_installed(struct session *s, const cJSON *msg) {
  uint8_t gen[HASH_LEN];
  int ok;
  const char *error = NULL, *warning = NULL;
  if (msg_get_hash(msg, "generation", gen) || msg_get_bool(msg, "ok", &ok) ||
      msg_get_str_opt(msg, "error", SESSION_TEXT_MAX * 4, &error) ||
      msg_get_str_opt(msg, "warning", SESSION_TEXT_MAX * 4, &warning)) {
    conn_fail(s->c, GPUPV_EFIELD, "installed: invalid generation, ok, error or warning");
    return GPUPV_EFIELD;
  }
  if (memcmp(gen, s->t->form.id, HASH_LEN) != 0) {
    conn_fail(s->c, GPUPV_EPROTO, "installed: names a generation that was not offered");
    return GPUPV_EPROTO;
  }
  const cJSON *status = cJSON_GetObjectItemCaseSensitive(msg, "status");
  if (cJSON_IsObject(status))
    s->env->on_report(s->env->ctx, s->guest, status);
  set_state(s, S_IDLE);
  push_finish(s, ok, ok ? NULL : (error ? error : "guest reported a failure"), warning);
  return 0;
}

static int on_report(struct session *s, const cJSON *msg) {
  const cJSON *status = cJSON_GetObjectItemCaseSensitive(msg, "status");
  if (!cJSON_IsObject(status)) {
    conn_fail(s->c, GPUPV_EFIELD, "report: missing status object");
    return GPUPV_EFIELD;
  }
  s->env->on_report(s->env->ctx, s->guest, status);
  return 0;
}

static int on_error(struct session *s, const cJSON *msg) {
  const char *text = NULL;
  char clean[GUEST_ERROR_MAX];
  msg_get_str_opt(msg, "message", SESSION_TEXT_MAX * 4, &text);
  guests_clean_error(text ? text : "(no message)", clean);
  log_warn("%s: guest reports an error: \"%s\"", s->label, clean);
  if (session_busy(s)) {
    set_state(s, S_IDLE);
    push_finish(s, 0, text ? text : "guest reported an error", NULL);
  }
  conn_close(s->c, GPUPV_EPROTO);
  return 0;
}

typedef int (*message_handler)(struct session *s, const cJSON *msg);

/* Which message each state accepts: the session's whole protocol. */
static const struct rule {
  enum msg_type type;
  unsigned states; /* bit per state */
  message_handler handle;
} rules[] = {
#define STATE_BIT(state) (1u << (state))
    {MSG_HELLO, STATE_BIT(S_HELLO), on_hello},
    {MSG_WANT, STATE_BIT(S_OFFERED), on_want},
    {MSG_CREDIT, STATE_BIT(S_SENDING) | STATE_BIT(S_INSTALLING), on_credit},
    /* installed only once every wanted blob has been sent */
    {MSG_INSTALLED, STATE_BIT(S_INSTALLING), on_installed},
    {MSG_REPORT,
     STATE_BIT(S_IDLE) | STATE_BIT(S_OFFERED) | STATE_BIT(S_SENDING) | STATE_BIT(S_INSTALLING),
     on_report},
    {MSG_ERROR, ~0u, on_error},
#undef STATE_BIT
};

static int session_on_control(struct conn *c, enum msg_type type, const cJSON *msg) {
  struct session *s = c->owner;
  for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
    if (rules[i].type != type)
      continue;
    if (!(rules[i].states & (1u << s->state)))
      break;
    if (s->guest)
      s->guest->last_seen_ms = guests_now_ms();
    rules[i].handle(s, msg);
    return 0;
  }
  conn_fail(c, GPUPV_EORDER, "%s is not allowed while %s", msg_type_name(type),
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
  s->c = NULL;
  if (session_busy(s))
    push_finish(s, 0, reason ? gpupv_strerror(reason) : "connection closed", NULL);
  set_state(s, S_CLOSED);
  if (s->guest)
    log_info("%s: disconnected%s%s", s->label, reason && reason != UV_EOF ? ": " : "",
             reason && reason != UV_EOF ? gpupv_strerror(reason) : "");
  s->env->on_closed(s->env->ctx, s->guest, s, reason);
  s->guest = NULL;
  session_maybe_free(s);
}

static const struct conn_ops session_ops = {session_on_control, session_on_data, session_on_drain,
                                            session_on_close};

/* ---- sending blobs ---- */

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

static void chunk_job_free(struct chunk_job *j) {
  free(j->mem);
  transfer_unref(j->t);
  free(j);
}

static void chunk_done(uv_work_t *w, int status) {
  struct chunk_job *j = w->data;
  struct session *s = j->s;
  struct transfer *t = j->t;
  s->work_pending = 0;
  int err = status ? status : j->err;
  if (!s->c || t->ended || t != s->t) {
    /* the push ended while we read: its reader goes with it */
    source_close(j->reader);
    chunk_job_free(j);
    session_maybe_free(s);
    return;
  }
  t->reader = j->reader;
  if (err) {
    char text[1400];
    snprintf(text, sizeof text, "host cannot read %s%s%s: %s", j->ref->path,
             j->ref->member ? "!" : "", j->ref->member ? j->ref->member : "",
             err == UV_EAGAIN ? "it changed since the scan" : gpupv_strerror(err));
    chunk_job_free(j);
    set_state(s, S_IDLE);
    push_finish(s, 0, text, NULL);
    conn_fail(s->c, err, "%s", text);
    return;
  }
  size_t len = j->len;
  uint8_t *mem = j->mem;
  j->mem = NULL;
  chunk_job_free(j);
  transfer_sent(t, len);
  if ((err = conn_send_data(s->c, mem, len))) {
    conn_close(s->c, err);
    return;
  }
  session_pump(s);
}

static void on_rate_timer(uv_timer_t *timer) {
  session_pump(timer->data);
}

/* Milliseconds to wait before the next chunk under --max-rate, or 0 to go on. */
static uint64_t rate_delay(const struct session *s) {
  uint64_t rate = s->env->max_rate;
  if (!rate)
    return 0;
  uint64_t allowed_ms = s->t->bytes_sent * 1000 / rate;
  uint64_t elapsed = guests_now_ms() - s->t->started_ms;
  return allowed_ms > elapsed ? allowed_ms - elapsed : 0;
}

static int send_blob_header(struct session *s, size_t blob) {
  const struct manifest_blob *b = &s->t->gen->blobs[blob];
  cJSON *msg = msg_new_blob(MSG_BLOB, b->sha256, b->size);
  int err = msg ? conn_send_msg(s->c, msg) : UV_ENOMEM;
  cJSON_Delete(msg);
  return err;
}

static int queue_chunk(struct session *s, uint64_t chunk) {
  struct transfer *t = s->t;
  struct chunk_job *j = calloc(1, sizeof *j);
  if (!j || !(j->mem = malloc(FRAME_HEADER_LEN + chunk))) {
    free(j);
    return UV_ENOMEM;
  }
  j->s = s;
  j->t = transfer_ref(t);
  j->ref = generation_blob_ref(t->gen, t->cur_blob);
  j->size = t->gen->blobs[t->cur_blob].size;
  j->want = chunk;
  j->reader = t->reader;
  t->reader = NULL; /* the job owns it until it is done */
  s->work.data = j;
  s->work_pending = 1;
  int err = uv_queue_work(s->env->loop, &s->work, chunk_work, chunk_done);
  if (err) {
    s->work_pending = 0;
    t->reader = j->reader;
    chunk_job_free(j);
  }
  return err;
}

static void session_pump(struct session *s) {
  while (s->c && s->state == S_SENDING && !s->work_pending) {
    struct transfer *t = s->t;
    if (transfer_done(t)) {
      set_state(s, S_INSTALLING);
      s->env->on_push_progress(s->env->ctx, s->guest);
      return;
    }
    if (s->c->write_queued >= CONN_HIGH_WATER)
      return; /* on_drain resumes us */
    size_t blob;
    if (transfer_next_blob(t, &blob)) {
      int err = send_blob_header(s, blob);
      if (err) {
        conn_close(s->c, err);
        return;
      }
      continue;
    }
    uint64_t chunk = transfer_chunk(t, SESSION_CHUNK);
    if (!chunk)
      return; /* the guest's next credit message resumes us */
    uint64_t delay = rate_delay(s);
    if (delay) {
      uv_timer_start(&s->timer, on_rate_timer, delay, 0);
      return;
    }
    int err = queue_chunk(s, chunk);
    if (err) {
      conn_close(s->c, err);
      return;
    }
  }
}

/* ---- lifetime ---- */

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
  struct session_list *list = s->env->list;
  struct session **p = &list->head;
  while (*p && *p != s)
    p = &(*p)->next;
  if (*p) {
    *p = s->next;
    list->n--;
  }
  transfer_unref(s->t);
  free(s);
}

static void on_hello_deadline(uv_timer_t *timer) {
  struct session *s = timer->data;
  if (s->c && s->state == S_HELLO)
    conn_fail(s->c, GPUPV_EPROTO, "no hello within %llu ms",
              (unsigned long long)s->env->hello_timeout_ms);
}

struct session *session_new(const struct session_env *env, struct conn *c) {
  struct session *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->env = env;
  s->c = c;
  s->state = S_HELLO;
  text_copy(s->label, sizeof s->label, c->peer);
  uv_timer_init(env->loop, &s->timer);
  s->timer.data = s;
  uv_timer_start(&s->timer, on_hello_deadline, env->hello_timeout_ms, 0);
  c->ops = &session_ops;
  c->owner = s;
  s->next = env->list->head;
  env->list->head = s;
  env->list->n++;
  if (conn_start(c)) {
    conn_close(c, UV_EIO);
    return s;
  }
  return s;
}

void session_close(struct session *s, int reason) {
  if (s->c)
    conn_close(s->c, reason);
}

void session_close_all(struct session_list *list) {
  for (struct session *s = list->head; s; s = s->next)
    session_close(s, 0);
}

int session_list_busy(const struct session_list *list) {
  for (const struct session *s = list->head; s; s = s->next)
    if (session_busy(s))
      return 1;
  return 0;
}

void session_close_stalled(struct session_list *list, uint64_t now_ms, uint64_t timeout_ms) {
  for (struct session *s = list->head; s; s = s->next) {
    if (!s->c || conn_write_stalled_ms(s->c, now_ms) < timeout_ms)
      continue;
    log_warn("%s: has read nothing for %llu ms with %zu bytes waiting; closing", s->label,
             (unsigned long long)timeout_ms, s->c->write_queued);
    if (session_busy(s)) {
      set_state(s, S_IDLE);
      push_finish(s, 0, "the guest stopped reading", NULL);
    }
    conn_close(s->c, UV_ETIMEDOUT);
  }
}
