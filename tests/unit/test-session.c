/*
 * One host session driven over a socketpair: the test plays the guest with raw frames and
 * checks what the session sends back and what it tells its session_env, for message
 * sequences that are legal and illegal.
 */
#include "common/err.h"
#include "common/fs.h"
#include "host-agent/session.h"
#include "proto/frame.h"
#include "tests/support/fixture.h"
#include "tests/support/peer.h"
#include "tests/support/test.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct harness {
  uv_loop_t loop;
  uv_timer_t tick; /* keeps uv_run(ONCE) from blocking while the test waits */
  struct session_offer offer;
  struct session_list list;
  struct session_env env;
  struct session *s;
  struct guest guest;
  struct peer guest_side;
  /* what the session told us */
  int hellos, ready, reports, progress, finished, closed, close_reason;
  struct push_record last;
  int installed;
  int refuse_hello;
};

static struct guest *on_hello(void *ctx, struct session *s, const struct session_hello *hello,
                              int *ret_err, char *why, size_t why_size, const char **ret_code) {
  struct harness *h = ctx;
  h->hellos++;
  if (h->refuse_hello) {
    *ret_err = GPUPV_ECONFLICT;
    *ret_code = "name_conflict";
    snprintf(why, why_size, "name in use by another guest");
    return NULL;
  }
  guests_set_name(&h->guest, hello->name);
  h->guest.session = s;
  return &h->guest;
}

static void on_ready(void *ctx, struct guest *g) {
  (void)g;
  ((struct harness *)ctx)->ready++;
}

static void on_report(void *ctx, struct guest *g, const cJSON *status) {
  (void)g, (void)status;
  ((struct harness *)ctx)->reports++;
}

static void on_progress(void *ctx, struct guest *g) {
  (void)g;
  ((struct harness *)ctx)->progress++;
}

static void on_finished(void *ctx, struct guest *g, const struct push_record *r,
                        const uint8_t *installed) {
  (void)g;
  struct harness *h = ctx;
  h->finished++;
  h->last = *r;
  h->installed = installed != NULL;
}

static void on_closed(void *ctx, struct guest *g, struct session *s, int reason) {
  (void)g, (void)s;
  struct harness *h = ctx;
  h->closed++;
  h->close_reason = reason;
  h->s = NULL;
}

static void on_tick(uv_timer_t *t) {
  (void)t;
}

static struct generation *small_generation(void) {
  const char *src = test_path("src");
  struct fixture_spec spec = {.seed = 3, .packages = 1, .files_per_package = 6, .small_max = 3000};
  CHECK(fixture_make(src, &spec) == 0);
  char store[1024], err[512];
  snprintf(store, sizeof store, "%s/store", src);
  struct strlist none = {0};
  struct source_config cfg = {store, &none, NULL, NULL, NULL, NULL, NULL, 0, NULL, 0};
  struct generation *g;
  CHECK_MSG(source_scan(&cfg, NULL, &g, err, sizeof err) == 0, "scan: %s", err);
  return g;
}

static void harness_start(struct harness *h) {
  memset(h, 0, sizeof *h);
  CHECK(uv_loop_init(&h->loop) == 0);
  uv_timer_init(&h->loop, &h->tick);
  uv_timer_start(&h->tick, on_tick, 5, 5);
  h->offer.gen = small_generation();
  memset(h->offer.signature_hex, 'a', 2 * SIGN_SIG_LEN);
  memset(h->offer.key_hex, 'b', 2 * SIGN_KEY_LEN);
  h->offer.host_name = "unit-host";
  h->env =
      (struct session_env){&h->loop, &h->offer, &h->list,  0,           2000,        h,
                           on_hello, on_ready,  on_report, on_progress, on_finished, on_closed};
  int fds[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
  struct conn *c = conn_new(&h->loop, URI_UNIX, NULL, NULL);
  CHECK(c && uv_pipe_open(&c->h.pipe, fds[0]) == 0);
  h->s = session_new(&h->env, c);
  CHECK(h->s);
  memset(&h->guest_side, 0, sizeof h->guest_side);
  h->guest_side.fd = fds[1];
  frame_reader_init(&h->guest_side.reader);
}

/* Runs the loop until cond holds (checked between iterations), at most about 5 s. */
#define RUN_UNTIL(h, cond)                                                                         \
  do {                                                                                             \
    for (int i_ = 0; i_ < 1000 && !(cond); i_++)                                                   \
      uv_run(&(h)->loop, UV_RUN_ONCE);                                                             \
    CHECK_MSG(cond, "never happened: %s", #cond);                                                  \
  } while (0)

static void harness_done(struct harness *h) {
  if (h->s)
    session_close(h->s, 0);
  uv_close((uv_handle_t *)&h->tick, NULL);
  uv_run(&h->loop, UV_RUN_DEFAULT);
  CHECK_EQ_INT(uv_loop_close(&h->loop), 0);
  CHECK_EQ_INT(h->list.n, 0);
  generation_unref(h->offer.gen);
  cJSON_Delete(h->guest.report);
  peer_close(&h->guest_side);
}

/* Something to read: on the socket, or already in the reader's buffer. */
static int readable(struct harness *h) {
  struct pollfd pf = {h->guest_side.fd, POLLIN, 0};
  const struct frame_reader *r = &h->guest_side.reader;
  return r->in.len > r->off || poll(&pf, 1, 0) == 1;
}

/* Gathers the data frames that have arrived; 1 once size bytes are there. */
static int have_data(struct harness *h, size_t size) {
  peer_read_data_nowait(&h->guest_side);
  return h->guest_side.data_len >= size;
}

/* Reads the next message from the session, running the loop while it has not come. */
static cJSON *next_msg(struct harness *h, enum msg_type *ret_type) {
  /* the session writes from the loop; the test reads the other end once it has */
  RUN_UNTIL(h, readable(h));
  return peer_recv(&h->guest_side, ret_type);
}

static void send_hello(struct harness *h, int byte_at_a_time) {
  cJSON *m = msg_new(MSG_HELLO);
  cJSON_AddNumberToObject(m, "proto", PROTO_VERSION);
  cJSON_AddStringToObject(m, "name", "unit-guest");
  cJSON_AddNullToObject(m, "generation");
  /* a guest of this release: offered the manifest with its system files */
  cJSON_AddItemToArray(cJSON_AddArrayToObject(m, "caps"),
                       cJSON_CreateString(PROTO_CAP_SYSTEM_FILES));
  struct buf b;
  buf_init(&b);
  CHECK(msg_encode(&b, m) == 0);
  cJSON_Delete(m);
  for (size_t off = 0; off < b.len;) {
    size_t n = byte_at_a_time ? 1 : b.len - off;
    peer_send_bytes(&h->guest_side, b.data + off, n);
    off += n;
    if (byte_at_a_time)
      uv_run(&h->loop, UV_RUN_NOWAIT);
  }
  buf_done(&b);
}

static void welcome(struct harness *h, int byte_at_a_time) {
  send_hello(h, byte_at_a_time);
  enum msg_type type;
  cJSON *m = next_msg(h, &type);
  CHECK(m && type == MSG_WELCOME);
  CHECK_EQ_INT(h->ready, 1);
}

/* Offers the generation and reads the manifest that follows. */
static void offer(struct harness *h) {
  CHECK_EQ_INT(session_push(h->s), 0);
  enum msg_type type;
  cJSON *m = next_msg(h, &type);
  CHECK(m && type == MSG_OFFER);
  CHECK_EQ_STR(cJSON_GetObjectItem(m, "generation")->valuestring, h->offer.gen->id_hex);
  size_t size = h->offer.gen->encoded.len;
  RUN_UNTIL(h, have_data(h, size));
  CHECK(memcmp(h->guest_side.data, h->offer.gen->encoded.data, size) == 0);
}

static cJSON *want(struct harness *h, size_t first, size_t n, double window, int more) {
  cJSON *m = msg_new(MSG_WANT);
  cJSON_AddStringToObject(m, "generation", h->offer.gen->id_hex);
  cJSON *hashes = cJSON_AddArrayToObject(m, "hashes");
  for (size_t i = first; i < first + n; i++) {
    char hex[HASH_HEX_LEN + 1];
    hash_to_hex(h->offer.gen->blobs[i].sha256, hex);
    cJSON_AddItemToArray(hashes, cJSON_CreateString(hex));
  }
  cJSON_AddBoolToObject(m, "more", more);
  if (window >= 0)
    cJSON_AddNumberToObject(m, "window", window);
  return m;
}

static cJSON *installed(struct harness *h, int ok) {
  cJSON *m = msg_new(MSG_INSTALLED);
  cJSON_AddStringToObject(m, "generation", h->offer.gen->id_hex);
  cJSON_AddBoolToObject(m, "ok", ok);
  return m;
}

/* The session refuses: it says why, then closes with this reason. */
static void expect_refusal(struct harness *h, const char *needle, int reason) {
  enum msg_type type;
  cJSON *m;
  while ((m = next_msg(h, &type)) && type != MSG_ERROR)
    ; /* a blob header sent before the refusal */
  CHECK_MSG(m, "the session did not send an error");
  const char *text = cJSON_GetObjectItem(m, "message")->valuestring;
  CHECK_MSG(strstr(text, needle), "error \"%s\" lacks \"%s\"", text, needle);
  RUN_UNTIL(h, h->closed == 1);
  CHECK_EQ_INT(h->close_reason, reason);
}

TEST(unit_session_full_push) {
  struct harness h;
  harness_start(&h);
  welcome(&h, 1); /* fed a byte at a time */
  CHECK_EQ_STR(h.guest.name, "unit-guest");
  offer(&h);
  CHECK(session_busy(h.s));
  size_t nblobs = h.offer.gen->nblobs;
  /* two want messages; the credit covers one byte less than everything at first */
  uint64_t total = 0;
  for (size_t i = 0; i < nblobs; i++)
    total += h.offer.gen->blobs[i].size;
  peer_send_msg(&h.guest_side, want(&h, 0, 1, 0, 1));
  peer_send_msg(&h.guest_side, want(&h, 1, nblobs - 1, (double)total, 0));
  /* every blob arrives, in the order asked, with its exact content: a blob's data frames
   * are gathered while the next blob's header is read */
  for (size_t i = 0; i <= nblobs; i++) {
    if (i < nblobs) {
      enum msg_type type;
      cJSON *b = next_msg(&h, &type);
      CHECK_MSG(b && type == MSG_BLOB, "blob %zu did not come", i);
      uint8_t sha[HASH_LEN];
      CHECK(msg_get_hash(b, "sha256", sha) == 0);
      CHECK(memcmp(sha, h.offer.gen->blobs[i].sha256, HASH_LEN) == 0);
    } else {
      RUN_UNTIL(&h, have_data(&h, (size_t)h.offer.gen->blobs[i - 1].size));
    }
    if (i == 0)
      continue;
    uint8_t got[HASH_LEN];
    CHECK_EQ_INT(h.guest_side.data_len, h.offer.gen->blobs[i - 1].size);
    hash_bytes(h.guest_side.data, h.guest_side.data_len, got);
    CHECK_MSG(memcmp(got, h.offer.gen->blobs[i - 1].sha256, HASH_LEN) == 0,
              "blob %zu has other content", i - 1);
  }
  uint64_t done, all;
  session_progress(h.s, &done, &all);
  CHECK_EQ_INT(done, total);
  CHECK_EQ_INT(all, total);
  peer_send_msg(&h.guest_side, installed(&h, 1));
  RUN_UNTIL(&h, h.finished == 1);
  CHECK(h.last.ok && h.installed);
  CHECK_EQ_INT(h.last.bytes, total);
  CHECK_EQ_INT(h.last.files, nblobs);
  CHECK(!session_busy(h.s));
  /* idle again: a report is fine, and the next push may start */
  cJSON *r = msg_new(MSG_REPORT);
  cJSON_AddObjectToObject(r, "status");
  peer_send_msg(&h.guest_side, r);
  RUN_UNTIL(&h, h.reports == 1);
  CHECK_EQ_INT(session_push(h.s), 0);
  harness_done(&h);
}

TEST(unit_session_nothing_wanted) {
  struct harness h;
  harness_start(&h);
  welcome(&h, 0);
  offer(&h);
  peer_send_msg(&h.guest_side, want(&h, 0, 0, 0, 0));
  RUN_UNTIL(&h, h.progress >= 3); /* offered, sending, installing */
  peer_send_msg(&h.guest_side, installed(&h, 0));
  RUN_UNTIL(&h, h.finished == 1);
  CHECK(!h.last.ok && !h.installed);
  CHECK(strstr(h.last.error, "guest reported a failure"));
  harness_done(&h);
}

TEST(unit_session_push_needs_idle) {
  struct harness h;
  harness_start(&h);
  CHECK_EQ_INT(session_push(h.s), UV_EBUSY); /* before hello */
  welcome(&h, 0);
  offer(&h);
  CHECK_EQ_INT(session_push(h.s), UV_EBUSY); /* one push at a time */
  harness_done(&h);
}

TEST(unit_session_refuses_installed_when_idle) {
  struct harness h;
  harness_start(&h);
  welcome(&h, 0);
  peer_send_msg(&h.guest_side, installed(&h, 1));
  expect_refusal(&h, "installed is not allowed while idle", GPUPV_EORDER);
  CHECK_EQ_INT(h.finished, 0);
  harness_done(&h);
}

TEST(unit_session_refuses_installed_while_sending) {
  struct harness h;
  harness_start(&h);
  welcome(&h, 0);
  offer(&h);
  peer_send_msg(&h.guest_side, want(&h, 0, 1, 0, 0)); /* no credit: the blob waits */
  peer_send_msg(&h.guest_side, installed(&h, 1));
  expect_refusal(&h, "installed is not allowed while sending", GPUPV_EORDER);
  CHECK_EQ_INT(h.finished, 1);
  CHECK(!h.last.ok && !h.installed);
  harness_done(&h);
}

TEST(unit_session_refuses_want_before_offer) {
  struct harness h;
  harness_start(&h);
  welcome(&h, 0);
  peer_send_msg(&h.guest_side, want(&h, 0, 1, 100, 0));
  expect_refusal(&h, "want is not allowed while idle", GPUPV_EORDER);
  harness_done(&h);
}

TEST(unit_session_refuses_message_before_hello) {
  struct harness h;
  harness_start(&h);
  cJSON *c = msg_new(MSG_CREDIT);
  cJSON_AddNumberToObject(c, "bytes", 1);
  peer_send_msg(&h.guest_side, c);
  expect_refusal(&h, "credit is not allowed while hello", GPUPV_EORDER);
  CHECK_EQ_INT(h.hellos, 0);
  harness_done(&h);
}

TEST(unit_session_caps_credit_on_the_running_total) {
  struct harness h;
  harness_start(&h);
  welcome(&h, 0);
  offer(&h);
  peer_send_msg(&h.guest_side, want(&h, 0, 1, (double)(1 << 30), 1));
  peer_send_msg(&h.guest_side, want(&h, 1, 1, 1, 0));
  expect_refusal(&h, "past", GPUPV_ELIMIT);
  harness_done(&h);
}

TEST(unit_session_refused_hello_names_the_code) {
  struct harness h;
  harness_start(&h);
  h.refuse_hello = 1;
  send_hello(&h, 0);
  enum msg_type type;
  cJSON *m = next_msg(&h, &type);
  CHECK(m && type == MSG_ERROR);
  CHECK_EQ_STR(cJSON_GetObjectItem(m, "code")->valuestring, "name_conflict");
  RUN_UNTIL(&h, h.closed == 1);
  CHECK_EQ_INT(h.close_reason, GPUPV_ECONFLICT);
  CHECK_EQ_INT(h.ready, 0);
  harness_done(&h);
}
