/* Guest agent: connects to the host, receives offers, verifies and installs generations. */
#include "guest-agent/guestd.h"

#include "common/cmdline.h"
#include "common/err.h"
#include "common/fs-fault.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/peer-text.h"
#include "common/platform.h"
#include "common/text.h"
#include "guest-agent/checks.h"
#include "guest-agent/host-key.h"
#include "guest-agent/pin.h"
#include "guest-agent/probe.h"
#include "proto/frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GUESTD_BACKOFF_MIN_MS 100
#define GUESTD_WINDOW (16u << 20)
/* records of received objects kept in memory at most; past it, objects are hashed again */
#define GUESTD_FRESH_MAX (1u << 20)
#define GUESTD_WANT_PER_MSG 512 /* 512 hashes stay well inside a 64 KiB control frame */
#define GUESTD_MANIFEST_MAX (64u << 20)

static const char *const state_names[] = {"disconnected", "connecting", "welcome",   "idle",
                                          "manifest",     "planning",   "receiving", "installing"};

static void start_connect(struct guestd *g);
static void schedule_reconnect(struct guestd *g);

static void set_state(struct guestd *g, enum client_state to) {
  log_debug("state %s -> %s", state_names[g->state], state_names[to]);
  g->state = to;
}

static void offer_reset(struct guestd *g) {
  buf_done(&g->manifest_bytes);
  manifest_free(g->m);
  g->m = NULL;
  free(g->blobs);
  g->blobs = NULL;
  g->nblobs = 0;
  free(g->want);
  free(g->received);
  g->want = g->received = NULL;
  g->nwant = g->nreceived = 0;
  g->manifest_size = 0;
}

/* Everything after a connection ends waits until no thread-pool work touches the offer. */
static void maybe_reconnect(struct guestd *g) {
  if (g->c || !receiver_idle(&g->rx) || g->job_pending)
    return;
  receiver_reset(&g->rx); /* verified blobs stay staged for the next attempt */
  offer_reset(g);
  if (g->stopping)
    return;
  set_state(g, C_DISCONNECTED);
  schedule_reconnect(g);
}

/* Moves to state and runs work on the thread pool; offer data stays put until done has run. */
static int queue_job(struct guestd *g, uv_work_t *w, uv_work_cb work, uv_after_work_cb done,
                     enum client_state state) {
  set_state(g, state);
  g->job_pending = 1;
  int err = uv_queue_work(g->loop, w, work, done);
  if (err)
    g->job_pending = 0;
  return err;
}

static int send_msg(struct guestd *g, cJSON *msg) {
  int err = msg && g->c ? conn_send_msg(g->c, msg) : UV_ENOMEM;
  cJSON_Delete(msg);
  if (err && g->c) {
    log_error("%s: sending: %s", g->c->peer, gpupv_strerror(err));
    conn_close(g->c, err);
  }
  return err;
}

/* What the store adds to the report: legacy folders, and a switch waiting for a restart. */
static void add_store_report(const struct store *s, cJSON *status) {
  cJSON *legacy = status ? store_legacy_json(s) : NULL;
  if (legacy && cJSON_GetArraySize(legacy))
    cJSON_AddItemToObject(status, "legacy", legacy);
  else
    cJSON_Delete(legacy);
  cJSON *files = status ? store_reboot_files(s) : NULL;
  if (status && (store_reboot_pending(s) || files))
    cJSON_AddBoolToObject(status, "reboot_required", 1);
  if (files) /* system files that replace ones in use at the next restart */
    cJSON_AddItemToObject(status, "reboot_files", files);
}

/* The store's part and the report interval (the host marks a report older than three). */
static void add_agent_report(const struct guestd *g, cJSON *status) {
  add_store_report(&g->store, status);
  if (status)
    cJSON_AddNumberToObject(status, "report_interval_s", (double)g->cfg->report_interval_s);
}

static void note_reported(struct guestd *g, const cJSON *status);

/* ---- installing ---- */

struct install_job {
  uv_work_t work;
  struct guestd *g;
  int err;
  char text[512];
  char warning[1100];
  cJSON *status;
};

static void install_work(uv_work_t *w) {
  struct install_job *j = w->data;
  struct guestd *g = j->g;
  j->err = store_install(&g->store, g->m, &g->fresh, g->manifest_bytes.data, g->manifest_bytes.len,
                         j->text, sizeof j->text, j->warning, sizeof j->warning);
  j->status = probe_gpu(g->store.root);
  if (!j->err)
    probe_after_install(j->status);
  add_agent_report(g, j->status);
}

static void install_done(uv_work_t *w, int status) {
  struct install_job *j = w->data;
  struct guestd *g = j->g;
  int err = status ? status : j->err;
  g->job_pending = 0;
  if (j->status) {
    cJSON_Delete(g->status);
    g->status = j->status;
  }
  if (err)
    log_error("%s", j->text);
  else
    log_info("installed generation %.12s (%zu files)", g->offer_hex, g->m->nfiles);
  if (!err)
    records_done(&g->fresh); /* saved by the install */
  /* a pinned guest is offered only what the host was told to force: the pin has done its job */
  if (!err && pin_clear(g->cfg->state_dir))
    log_warn("cannot remove the rollback pin in %s", g->cfg->state_dir);
  if (g->c) {
    cJSON *msg = msg_new(MSG_INSTALLED);
    cJSON_AddStringToObject(msg, "generation", g->offer_hex);
    cJSON_AddBoolToObject(msg, "ok", !err);
    cJSON_AddItemToObject(msg, "error", err ? cJSON_CreateString(j->text) : cJSON_CreateNull());
    cJSON_AddItemToObject(msg, "warning",
                          !err && j->warning[0] ? cJSON_CreateString(j->warning)
                                                : cJSON_CreateNull());
    if (g->status)
      cJSON_AddItemToObject(msg, "status", cJSON_Duplicate(g->status, 1));
    note_reported(g, g->status);
    send_msg(g, msg);
    offer_reset(g);
    set_state(g, C_IDLE);
  }
  free(j);
  maybe_reconnect(g);
}

static void start_install(struct guestd *g) {
  struct install_job *j = calloc(1, sizeof *j);
  if (!j) {
    conn_close(g->c, UV_ENOMEM);
    return;
  }
  j->g = g;
  j->work.data = j;
  log_info("generation %.12s: all content received and verified; installing", g->offer_hex);
  if (queue_job(g, &j->work, install_work, install_done, C_INSTALLING)) {
    free(j);
    conn_close(g->c, UV_ENOMEM);
  }
}

/* ---- receiving blobs ---- */

static void maybe_install(struct guestd *g) {
  if (g->c && g->state == C_RECEIVING && g->nreceived == g->nwant && receiver_idle(&g->rx))
    start_install(g);
}

static void rx_on_blob(void *ctx, const uint8_t sha256[HASH_LEN], int err,
                       const struct object_record *record) {
  struct guestd *g = ctx;
  /* what this process hashed needs no second hash; without the record it gets one */
  if (record && (g->fresh.n >= GUESTD_FRESH_MAX || records_put(&g->fresh, record)))
    records_done(&g->fresh);
  char hex[HASH_HEX_LEN + 1];
  hash_to_hex(sha256, hex);
  if (err && g->c) {
    if (err == GPUPV_EHASH)
      conn_fail(g->c, err, "blob %.16s from the host: content does not match its hash; refused",
                hex);
    else
      conn_fail(g->c, err, "writing blob %.16s: %s", hex, gpupv_strerror(err));
  }
  if (!err)
    g->nreceived++;
  if (!g->c)
    maybe_reconnect(g);
  else
    maybe_install(g);
}

static void rx_on_consumed(void *ctx, size_t bytes) {
  struct guestd *g = ctx;
  if (!g->c) {
    maybe_reconnect(g);
    return;
  }
  cJSON *credit = msg_new(MSG_CREDIT);
  cJSON_AddNumberToObject(credit, "bytes", (double)bytes);
  send_msg(g, credit);
  if (g->c && !receiver_full(&g->rx))
    conn_resume(g->c);
  maybe_install(g);
}

static const struct receiver_ops rx_ops = {rx_on_blob, rx_on_consumed};

static int cmp_hash(const void *a, const void *b) {
  return memcmp(a, b, HASH_LEN);
}

static long want_index(const struct guestd *g, const uint8_t sha[HASH_LEN]) {
  const uint8_t *hit = bsearch(sha, g->want, g->nwant, HASH_LEN, cmp_hash);
  return hit ? (long)((hit - g->want) / HASH_LEN) : -1;
}

static void on_blob(struct guestd *g, const cJSON *msg) {
  uint8_t sha[HASH_LEN];
  uint64_t size;
  if (msg_get_hash(msg, "sha256", sha) || msg_get_u64(msg, "size", MSG_U64_MAX, &size)) {
    conn_fail(g->c, GPUPV_EFIELD, "blob: invalid sha256 or size");
    return;
  }
  long i = want_index(g, sha);
  if (receiver_in_blob(&g->rx)) {
    conn_fail(g->c, GPUPV_EORDER, "blob: a new blob starts before the last one ended");
    return;
  }
  if (i < 0 || g->received[i]) {
    conn_fail(g->c, GPUPV_EPROTO, "blob: a blob that was not asked for, or sent twice");
    return;
  }
  long b = manifest_blob_find(g->blobs, g->nblobs, sha);
  if (b < 0 || g->blobs[b].size != size || size == 0) {
    conn_fail(g->c, GPUPV_EPROTO, "blob: size %llu differs from the manifest",
              (unsigned long long)size);
    return;
  }
  g->received[i] = 1;
  if (receiver_begin(&g->rx, sha, size))
    conn_close(g->c, UV_ENOMEM);
}

static int on_blob_data(struct guestd *g, const uint8_t *data, size_t len) {
  int err = receiver_data(&g->rx, data, len);
  if (err == GPUPV_EPROTO) {
    conn_fail(g->c, err, "data frame beyond the end of a blob");
    return err;
  }
  if (err)
    return err;
  if (receiver_full(&g->rx))
    conn_pause(g->c); /* back-pressure: the socket buffer and the host's credit hold the rest */
  return 0;
}

/* ---- planning ---- */

struct plan_job {
  uv_work_t work;
  struct guestd *g;
  int err;
  uint8_t *want;
  size_t n;
  uint64_t bytes;
};

static void plan_work(uv_work_t *w) {
  struct plan_job *j = w->data;
  j->err = store_plan(&j->g->store, j->g->m, &j->g->fresh, &j->want, &j->n, &j->bytes);
}

static void send_want(struct guestd *g) {
  size_t off = 0;
  int first = 1;
  do {
    cJSON *msg = msg_new(MSG_WANT);
    cJSON_AddStringToObject(msg, "generation", g->offer_hex);
    cJSON *hashes = cJSON_AddArrayToObject(msg, "hashes");
    size_t end = off + GUESTD_WANT_PER_MSG < g->nwant ? off + GUESTD_WANT_PER_MSG : g->nwant;
    for (; off < end; off++) {
      char hex[HASH_HEX_LEN + 1];
      hash_to_hex(g->want + off * HASH_LEN, hex);
      cJSON_AddItemToArray(hashes, cJSON_CreateString(hex));
    }
    cJSON_AddBoolToObject(msg, "more", off < g->nwant);
    cJSON_AddNumberToObject(msg, "window", first ? GUESTD_WINDOW : 0);
    first = 0;
    if (send_msg(g, msg))
      return;
  } while (off < g->nwant);
}

static void plan_done(uv_work_t *w, int status) {
  struct plan_job *j = w->data;
  struct guestd *g = j->g;
  int err = status ? status : j->err;
  g->job_pending = 0;
  if (!g->c) {
    free(j->want);
  } else if (err) {
    free(j->want);
    conn_fail(g->c, err, "planning generation %.12s: %s", g->offer_hex, gpupv_strerror(err));
  } else {
    g->want = j->want;
    g->nwant = j->n;
    g->received = calloc(j->n + 1, 1);
    log_info("generation %.12s: %zu files; need %zu blobs, %llu bytes", g->offer_hex, g->m->nfiles,
             j->n, (unsigned long long)j->bytes);
    set_state(g, C_RECEIVING);
    send_want(g);
    if (g->c && !g->received)
      conn_close(g->c, UV_ENOMEM);
    else
      maybe_install(g);
  }
  free(j);
  maybe_reconnect(g);
}

static void on_manifest_complete(struct guestd *g) {
  uint8_t got[HASH_LEN];
  const char *reason = NULL;
  hash_bytes(g->manifest_bytes.data, g->manifest_bytes.len, got);
  if (memcmp(got, g->offer_id, HASH_LEN) != 0) {
    conn_fail(g->c, GPUPV_EHASH, "manifest refused: it does not hash to generation %.12s",
              g->offer_hex);
    return;
  }
  int err = manifest_decode(g->manifest_bytes.data, g->manifest_bytes.len, &MANIFEST_DEFAULT_LIMITS,
                            &g->m, &reason);
  if (err) {
    conn_fail(g->c, err, "manifest of generation %.12s refused: %s", g->offer_hex,
              reason ? reason : gpupv_strerror(err));
    return;
  }
  struct plan_job *j = calloc(1, sizeof *j);
  if (!j || manifest_blobs(g->m, &g->blobs, &g->nblobs)) {
    free(j);
    conn_close(g->c, UV_ENOMEM);
    return;
  }
  j->g = g;
  j->work.data = j;
  if (queue_job(g, &j->work, plan_work, plan_done, C_PLANNING)) {
    free(j);
    conn_close(g->c, UV_ENOMEM);
  }
}

/* ---- messages ---- */

/* Checks the offer's signature against the pinned host key, pinning it on first contact. */
static int check_signature(struct guestd *g, const cJSON *msg) {
  const char *key_hex, *sig_hex;
  uint8_t key[SIGN_KEY_LEN], sig[SIGN_SIG_LEN];
  if (msg_get_str(msg, "key", 2 * SIGN_KEY_LEN, &key_hex) ||
      msg_get_str(msg, "signature", 2 * SIGN_SIG_LEN, &sig_hex) ||
      text_hex_decode(key_hex, key, SIGN_KEY_LEN) || text_hex_decode(sig_hex, sig, SIGN_SIG_LEN)) {
    conn_fail(g->c, GPUPV_ESIGNATURE, "offer: unsigned or malformed signature; refused");
    return GPUPV_ESIGNATURE;
  }
  if (g->has_tls_host_key && memcmp(key, g->tls_host_key, SIGN_KEY_LEN) != 0) {
    conn_fail(g->c, GPUPV_ESIGNATURE,
              "offer signed by host key %.16s..., not the key this connection's TLS handshake "
              "proved; refused",
              key_hex);
    return GPUPV_ESIGNATURE;
  }
  if (!host_key_may_sign(&g->trusted, key)) {
    char pinned[2 * SIGN_KEY_LEN + 1];
    text_hex_encode(g->trusted.key, SIGN_KEY_LEN, pinned);
    conn_fail(g->c, GPUPV_ESIGNATURE,
              "offer signed by host key %.16s..., but this guest trusts %.16s... (%s); refused",
              key_hex, pinned, host_key_source(&g->trusted));
    return GPUPV_ESIGNATURE;
  }
  if (sign_verify_generation(key, g->offer_id, sig)) {
    conn_fail(g->c, GPUPV_ESIGNATURE, "offer: bad signature over generation %.12s; refused",
              g->offer_hex);
    return GPUPV_ESIGNATURE;
  }
  char why[1400];
  int err = host_key_pin(&g->trusted, key, why, sizeof why);
  if (err) {
    log_error("%s", why);
    conn_fail(g->c, err, "offer: this guest cannot pin the host key (%s); refused",
              gpupv_strerror(err));
    return err;
  }
  return 0;
}

static void on_offer(struct guestd *g, const cJSON *msg) {
  const char *hex;
  if (msg_get_str(msg, "generation", HASH_HEX_LEN, &hex) || hash_from_hex(hex, g->offer_id) ||
      msg_get_u64(msg, "size", GUESTD_MANIFEST_MAX, &g->manifest_size) || g->manifest_size == 0) {
    conn_fail(g->c, GPUPV_EFIELD, "offer: invalid generation or manifest size (limit %u bytes)",
              GUESTD_MANIFEST_MAX);
    return;
  }
  memcpy(g->offer_hex, hex, sizeof g->offer_hex);
  if (check_signature(g, msg))
    return;
  buf_init(&g->manifest_bytes);
  if (buf_reserve(&g->manifest_bytes, (size_t)g->manifest_size + 1)) {
    conn_close(g->c, UV_ENOMEM);
    return;
  }
  log_info("host offers generation %.12s", hex);
  set_state(g, C_MANIFEST);
}

/* Text from the host, made printable before it reaches a log line. */
static const char *host_text(const cJSON *msg, const char *key, char *out, size_t size) {
  const char *text = NULL;
  msg_get_str_opt(msg, key, 16384, &text);
  return peer_text_clean(text ? text : "(no message)", text ? strlen(text) : 12, out, size);
}

static void on_host_error(struct guestd *g, const cJSON *msg) {
  char text[1024];
  const char *code = NULL;
  msg_get_str_opt(msg, "code", 64, &code);
  log_warn("%s: host reports an error: \"%s\"", g->c->peer,
           host_text(msg, "message", text, sizeof text));
  /* another guest holds our name: wait the longest between tries instead of flapping */
  if (code && strcmp(code, "name_conflict") == 0)
    g->backoff_ms = UINT64_MAX / 4;
  conn_close(g->c, GPUPV_EPROTO);
}

static void on_notice(struct guestd *g, const cJSON *msg) {
  char text[1024];
  log_warn("%s: the host says: \"%s\"", g->c->peer, host_text(msg, "message", text, sizeof text));
}

static void on_welcome(struct guestd *g, const cJSON *msg) {
  struct conn *c = g->c;
  uint64_t proto;
  const char *host = NULL;
  if (msg_get_u64(msg, "proto", 1000000, &proto) || proto != PROTO_VERSION) {
    conn_fail(c, GPUPV_EVERSION, "welcome: host protocol differs from ours (%d)", PROTO_VERSION);
    return;
  }
  char name[128];
  msg_get_str_opt(msg, "host", 63, &host);
  peer_text_clean(host ? host : "?", host ? strlen(host) : 1, name, sizeof name);
  log_info("connected to host \"%s\" via %s", name, g->uri.text);
  snprintf(c->peer, sizeof c->peer, "host \"%.60s\" (%.50s)", name, g->uri.text);
  g->backoff_ms = 0;
  g->failures = 0;
  set_state(g, C_IDLE);
  cmdline_signal_ready(&g->ready_fd);
  fs_fault_arm(); /* a test's faults start once the agent is ready, not in its start-up */
}

typedef void (*host_message_handler)(struct guestd *g, const cJSON *msg);

/* Which host message each state accepts: the guest's side of the protocol. */
static const struct rule {
  enum msg_type type;
  unsigned states; /* bit per client_state */
  host_message_handler handle;
} rules[] = {
#define STATE_BIT(state) (1u << (state))
#define AFTER_WELCOME                                                                              \
  (STATE_BIT(C_IDLE) | STATE_BIT(C_MANIFEST) | STATE_BIT(C_PLANNING) | STATE_BIT(C_RECEIVING) |    \
   STATE_BIT(C_INSTALLING))
    {MSG_WELCOME, STATE_BIT(C_WELCOME), on_welcome},
    {MSG_OFFER, STATE_BIT(C_IDLE), on_offer},
    {MSG_BLOB, STATE_BIT(C_RECEIVING), on_blob},
    {MSG_NOTICE, STATE_BIT(C_WELCOME) | AFTER_WELCOME, on_notice},
    {MSG_ERROR, ~0u, on_host_error},
#undef AFTER_WELCOME
#undef STATE_BIT
};

static int guest_on_control(struct conn *c, enum msg_type type, const cJSON *msg) {
  struct guestd *g = c->owner;
  for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
    if (rules[i].type != type)
      continue;
    if (!(rules[i].states & (1u << g->state)))
      break;
    rules[i].handle(g, msg);
    return 0;
  }
  conn_fail(c, GPUPV_EORDER, "%s is not expected while %s; refused", msg_type_name(type),
            state_names[g->state]);
  return 0;
}

static int guest_on_data(struct conn *c, const uint8_t *data, size_t len) {
  struct guestd *g = c->owner;
  if (g->state == C_RECEIVING)
    return on_blob_data(g, data, len);
  if (g->state != C_MANIFEST) {
    conn_fail(c, GPUPV_EORDER, "data frame while %s; refused", state_names[g->state]);
    return GPUPV_EORDER;
  }
  if (g->manifest_bytes.len + len > g->manifest_size) {
    conn_fail(c, GPUPV_EPROTO, "manifest data beyond the offered size");
    return GPUPV_EPROTO;
  }
  buf_append(&g->manifest_bytes, data, len);
  if (g->manifest_bytes.len == g->manifest_size)
    on_manifest_complete(g);
  return 0;
}

static void guest_on_close(struct conn *c, int reason) {
  struct guestd *g = c->owner;
  g->c = NULL;
  if (g->state >= C_IDLE)
    log_info("disconnected from the host%s%s", reason && reason != UV_EOF ? ": " : "",
             reason && reason != UV_EOF ? gpupv_strerror(reason) : "");
  maybe_reconnect(g);
}

static const struct conn_ops guest_ops = {guest_on_control, guest_on_data, NULL, guest_on_close};

/* ---- connecting ---- */

static void send_hello(struct guestd *g) {
  uint8_t cur[HASH_LEN];
  char hex[HASH_HEX_LEN + 1];
  int has = store_current(&g->store, cur);
  if (has)
    hash_to_hex(cur, hex);
  cJSON *msg = msg_new_hello(g->cfg->name, has ? hex : NULL);
  cJSON_AddStringToObject(msg, "agent", "gpupv-guestd " GPUPV_VERSION);
  cJSON *caps = cJSON_AddArrayToObject(msg, "caps");
  if (caps && store_takes_system_files())
    cJSON_AddItemToArray(caps, cJSON_CreateString(PROTO_CAP_SYSTEM_FILES));
  uint8_t pinned[HASH_LEN];
  if (pin_read(g->cfg->state_dir, pinned))
    msg_add_hash(msg, "pinned", pinned); /* after --rollback: push nothing unless forced */
  if (g->status)
    cJSON_AddItemToObject(msg, "status", cJSON_Duplicate(g->status, 1));
  set_state(g, C_WELCOME);
  note_reported(g, g->status);
  send_msg(g, msg);
}

/* A tls:// host must prove the pinned key in its handshake; on first contact its offer must be
 * signed with the key it proved. 0, or GPUPV_EPEER_KEY (logged). */
static int check_tls_host_key(struct guestd *g, const struct conn *c) {
  char got[2 * SIGN_KEY_LEN + 1] = "none", pinned[2 * SIGN_KEY_LEN + 1];
  g->has_tls_host_key = c->has_peer_key;
  if (c->has_peer_key) {
    memcpy(g->tls_host_key, c->peer_key, SIGN_KEY_LEN);
    text_hex_encode(c->peer_key, SIGN_KEY_LEN, got);
  }
  if (c->has_peer_key && host_key_may_sign(&g->trusted, c->peer_key))
    return 0;
  text_hex_encode(g->trusted.key, SIGN_KEY_LEN, pinned);
  log_error("the host at %s presents key %.16s..., but this guest trusts %.16s... (%s); "
            "refused before sending anything",
            g->uri.text, got, pinned, host_key_source(&g->trusted));
  return GPUPV_EPEER_KEY;
}

static void on_connected(struct conn *c, int status) {
  struct guestd *g = c->owner;
  if (status) {
    if (g->failures++ == 0)
      log_info("cannot reach the host at %s: %s; retrying", g->uri.text, gpupv_strerror(status));
    else
      log_debug("cannot reach the host at %s: %s", g->uri.text, gpupv_strerror(status));
    conn_close(c, status);
    return;
  }
  if (g->stopping) {
    conn_close(c, 0);
    return;
  }
  if (g->tls && check_tls_host_key(g, c)) {
    conn_close(c, GPUPV_EPEER_KEY); /* before any data: the host hears nothing of this guest */
    return;
  }
  conn_start(c);
  send_hello(g);
}

/* ---- reports between pushes ---- */

/* How often the checks are probed: a change is reported within a quarter of the interval
 * (between 250 ms and 15 s). */
static uint64_t report_period_ms(const struct guestd *g) {
  uint64_t ms = (uint64_t)g->cfg->report_interval_s * 1000 / 4;
  return ms < 250 ? 250 : ms > 15000 ? 15000 : ms;
}

static void report_work(uv_work_t *w) {
  struct guestd *g = w->data;
  g->report_next = probe_gpu(g->store.root);
  add_agent_report(g, g->report_next);
}

/* The host now has status (sent with hello, installed or report). */
static void note_reported(struct guestd *g, const cJSON *status) {
  cJSON_Delete(g->reported);
  g->reported = status ? cJSON_Duplicate(status, 1) : NULL;
  g->reported_ms = uv_now(g->loop);
}

static void report_done(uv_work_t *w, int status) {
  struct guestd *g = w->data;
  g->report_pending = 0;
  cJSON *next = status ? NULL : g->report_next;
  g->report_next = NULL;
  /* only between pushes: an install sends its own status with installed */
  if (!next || g->stopping || !g->c || g->state != C_IDLE || g->job_pending) {
    cJSON_Delete(next);
    return;
  }
  cJSON_Delete(g->status);
  g->status = next;
  int due = uv_now(g->loop) - g->reported_ms >= (uint64_t)g->cfg->report_interval_s * 1000;
  if (!due && checks_same(g->reported, next))
    return;
  cJSON *msg = msg_new(MSG_REPORT);
  if (msg)
    cJSON_AddItemToObject(msg, "status", cJSON_Duplicate(next, 1));
  if (send_msg(g, msg) == 0)
    note_reported(g, next);
}

static void on_report_timer(uv_timer_t *t) {
  struct guestd *g = t->data;
  if (g->report_pending || g->stopping || !g->c || g->state != C_IDLE || g->job_pending)
    return;
  g->report_work.data = g;
  if (uv_queue_work(g->loop, &g->report_work, report_work, report_done) == 0)
    g->report_pending = 1;
}

struct probe_job {
  uv_work_t work;
  struct guestd *g;
  cJSON *status;
};

static void probe_work(uv_work_t *w) {
  struct probe_job *j = w->data;
  j->status = probe_gpu(j->g->store.root);
  add_agent_report(j->g, j->status);
}

static void probe_done(uv_work_t *w, int status) {
  (void)status;
  struct probe_job *j = w->data;
  struct guestd *g = j->g;
  g->job_pending = 0;
  if (j->status) {
    cJSON_Delete(g->status);
    g->status = j->status;
  }
  free(j);
  if (g->stopping)
    return;
  g->c = conn_new(g->loop, g->uri.kind, &guest_ops, g);
  int err = g->c ? transport_connect_tls(g->c, &g->uri, g->tls, on_connected) : UV_ENOMEM;
  if (err) {
    log_error("connecting to %s: %s", g->uri.text, gpupv_strerror(err));
    if (g->c)
      conn_close(g->c, err);
    else
      schedule_reconnect(g);
  }
}

static void start_connect(struct guestd *g) {
  struct probe_job *j = calloc(1, sizeof *j);
  if (!j) {
    schedule_reconnect(g);
    return;
  }
  j->g = g;
  j->work.data = j;
  if (queue_job(g, &j->work, probe_work, probe_done, C_CONNECTING)) {
    free(j);
    schedule_reconnect(g);
  }
}

static void on_retry(uv_timer_t *t) {
  start_connect(t->data);
}

static void schedule_reconnect(struct guestd *g) {
  uint64_t max = g->cfg->retry_max_ms > 0 ? (uint64_t)g->cfg->retry_max_ms : 30000;
  g->backoff_ms = g->backoff_ms ? g->backoff_ms * 2 : GUESTD_BACKOFF_MIN_MS;
  if (g->backoff_ms > max)
    g->backoff_ms = max;
  /* Jitter spreads many guests of one host across the window after a host restart. */
  uint64_t delay = g->backoff_ms / 2 + (uint64_t)rand() % (g->backoff_ms / 2 + 1);
  uv_timer_start(&g->retry_timer, on_retry, delay, 0);
}

static void on_signal(uv_signal_t *sig, int signum) {
  struct guestd *g = sig->data;
  log_info("%s: shutting down", signum == SIGTERM ? "SIGTERM" : "SIGINT");
  guestd_stop(g);
}

int guestd_load_guest_key(const char *state_dir, struct sign_key **ret) {
  char path[1100];
  snprintf(path, sizeof path, "%s/guest-key.pem", state_dir);
  int err = fs_mkdir_p(state_dir, 0700);
  if (!err)
    err = sign_key_load_or_create(path, ret);
  if (err)
    log_error("guest key %s: %s", path, gpupv_strerror(err));
  return err;
}

/* tls:// only: this guest's key, presented in its certificate. */
static int load_tls(struct guestd *g) {
  if (g->uri.kind != URI_TLS)
    return 0;
  int err = guestd_load_guest_key(g->cfg->state_dir, &g->guest_key);
  if (!err && (err = tls_identity_new(g->guest_key, TLS_CLIENT, "gpupv-guestd", &g->tls)))
    log_error("cannot set up TLS: %s", gpupv_strerror(err));
  if (err)
    return err;
  uint8_t pub[SIGN_KEY_LEN];
  char hex[2 * SIGN_KEY_LEN + 1];
  sign_key_public(g->guest_key, pub);
  text_hex_encode(pub, SIGN_KEY_LEN, hex);
  log_info("this guest's key is %s (for the host's --allow-guest-keys)", hex);
  return 0;
}

int guestd_start(struct guestd *g, uv_loop_t *loop, struct guestd_config *cfg) {
  memset(g, 0, sizeof *g);
  g->lock_fd = -1;
  g->loop = loop;
  g->cfg = cfg;
  g->ready_fd = (int)cfg->ready_fd;
  buf_init(&g->manifest_bytes);
  uv_timer_init(loop, &g->retry_timer);
  g->retry_timer.data = g;
  uv_timer_init(loop, &g->report_timer);
  g->report_timer.data = g;
  uv_signal_init(loop, &g->sigterm);
  uv_signal_init(loop, &g->sigint);
  g->sigterm.data = g->sigint.data = g;
  uv_signal_start(&g->sigterm, on_signal, SIGTERM);
  uv_signal_start(&g->sigint, on_signal, SIGINT);
  const char *reason = NULL;
  int err = uri_parse(cfg->connect, &g->uri, &reason);
  if (err) {
    log_error("--connect %s: %s", cfg->connect, reason);
    return err;
  }
  err = store_init(&g->store, cfg->root);
  receiver_init(&g->rx, loop, &g->store, &rx_ops, g);
  if (err) {
    log_error("install root %s: %s", cfg->root, gpupv_strerror(err));
    return err;
  }
  if ((err = fs_mkdir_p(cfg->state_dir, 0700))) {
    log_error("state directory %s: %s", cfg->state_dir, gpupv_strerror(err));
    return err;
  }
  /* one agent per state folder: two would race their installs into one root */
  char lock_path[1100];
  long holder = 0;
  snprintf(lock_path, sizeof lock_path, "%s/lock", cfg->state_dir);
  if ((err = fs_lock_exclusive(lock_path, &g->lock_fd, &holder))) {
    if (err == UV_EBUSY)
      log_error("another gpupv-guestd (PID %ld) already uses the state folder %s; stop it first",
                holder, cfg->state_dir);
    else
      log_error("locking %s: %s", lock_path, gpupv_strerror(err));
    return err;
  }
  if ((err = host_key_load(&g->trusted, cfg->state_dir, cfg->host_key)) || (err = load_tls(g)))
    return err;
  uv_timeval64_t tv;
  uv_gettimeofday(&tv);
  srand((unsigned)(tv.tv_usec ^ (long)getpid()));
  uint8_t cur[HASH_LEN];
  char hex[HASH_HEX_LEN + 1] = "none";
  if (store_current(&g->store, cur))
    hash_to_hex(cur, hex);
  log_info("guest %s, root %s, installed generation %.12s; connecting to %s", cfg->name, cfg->root,
           hex, cfg->connect);
  probe_set_helper("/proc/self/exe");
  start_connect(g);
  uint64_t period = report_period_ms(g);
  uv_timer_start(&g->report_timer, on_report_timer, period, period);
  return 0;
}

void guestd_stop(struct guestd *g) {
  if (g->stopping)
    return;
  g->stopping = 1;
  service_unwatch();
  uv_close((uv_handle_t *)&g->retry_timer, NULL);
  uv_close((uv_handle_t *)&g->report_timer, NULL);
  uv_close((uv_handle_t *)&g->sigterm, NULL);
  uv_close((uv_handle_t *)&g->sigint, NULL);
  if (g->c)
    conn_close(g->c, 0);
}

void guestd_done(struct guestd *g) {
  receiver_done(&g->rx);
  records_done(&g->fresh);
  offer_reset(g);
  cJSON_Delete(g->status);
  cJSON_Delete(g->reported);
  tls_identity_free(g->tls);
  sign_key_free(g->guest_key);
  if (g->ready_fd >= 0)
    close(g->ready_fd);
  if (g->lock_fd >= 0)
    fs_close(g->lock_fd);
}
