/*
 * A hostile guest built on proto/: against one real gpupv-hostd it sends malformed frames,
 * bad hellos, messages out of order, credit past the cap, floods, slow reads, name clashes
 * and text made to break terminals and logs. After every case the host must be the same
 * process, still answer `gpupv status`, and keep a well-behaved guest's pushes working; at
 * the end its peak memory must stay bounded.
 */
#include "common/buf.h"
#include "common/fs.h"
#include "common/peer-text.h"
#include "proto/frame.h"
#include "proto/manifest.h"
#include "tests/support/agents.h"
#include "tests/support/fixture.h"
#include "tests/support/peer.h"
#include "tests/support/test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HOST_RSS_LIMIT_KB (64 * 1024)

static struct proc host;
static const char *sock_path;

/* ---- a hostile guest's moves ---- */

static void connect_host(struct peer *p) {
  peer_connect_unix(p, sock_path);
}

/* A hello of this release, which takes the manifest with its system files. */
static cJSON *hello_msg(const char *name, const char *generation) {
  cJSON *m = msg_new_hello(name, generation);
  cJSON_AddItemToArray(cJSON_AddArrayToObject(m, "caps"),
                       cJSON_CreateString(PROTO_CAP_SYSTEM_FILES));
  return m;
}

/* hello, and the welcome it must get. */
static void hello(struct peer *p, const char *name, const char *generation) {
  connect_host(p);
  peer_send_msg(p, hello_msg(name, generation));
  CHECK_MSG(peer_recv_type(p, MSG_WELCOME), "no welcome for %s", name);
}

struct offer {
  char generation[HASH_HEX_LEN + 1];
  struct manifest *m;
  struct manifest_blob *blobs;
  size_t nblobs;
};

/* hello without a generation: the host offers its own; the manifest is read and decoded. */
static void hello_and_offer(struct peer *p, const char *name, struct offer *o) {
  hello(p, name, NULL);
  cJSON *offer = peer_recv_type(p, MSG_OFFER);
  CHECK_MSG(offer, "no offer for a guest without a generation");
  snprintf(o->generation, sizeof o->generation, "%s",
           cJSON_GetObjectItem(offer, "generation")->valuestring);
  size_t size = (size_t)agents_num(offer, "size");
  peer_read_data(p, size);
  const char *reason = NULL;
  CHECK(manifest_decode(p->data, size, &MANIFEST_DEFAULT_LIMITS, &o->m, &reason) == 0);
  CHECK(manifest_blobs(o->m, &o->blobs, &o->nblobs) == 0);
}

static void offer_free(struct offer *o) {
  manifest_free(o->m);
  free(o->blobs);
}

static cJSON *want_msg(const struct offer *o, const size_t *blobs, size_t n, double window,
                       int more) {
  cJSON *m = msg_new(MSG_WANT);
  cJSON_AddStringToObject(m, "generation", o->generation);
  cJSON *hashes = cJSON_AddArrayToObject(m, "hashes");
  for (size_t i = 0; i < n; i++) {
    char hex[HASH_HEX_LEN + 1];
    hash_to_hex(o->blobs[blobs[i]].sha256, hex);
    cJSON_AddItemToArray(hashes, cJSON_CreateString(hex));
  }
  cJSON_AddBoolToObject(m, "more", more);
  if (window >= 0)
    cJSON_AddNumberToObject(m, "window", window);
  return m;
}

/* Every non-empty blob, with a window. */
static void want_all(struct peer *p, const struct offer *o, double window) {
  size_t *all = malloc(o->nblobs * sizeof *all), n = 0;
  for (size_t i = 0; i < o->nblobs; i++)
    if (o->blobs[i].size)
      all[n++] = i;
  peer_send_msg(p, want_msg(o, all, n, window, 0));
  free(all);
}

static void expect_refusal(struct peer *p, const char *needle) {
  char *why = peer_expect_refusal(p, NULL);
  CHECK_MSG(strstr(why, needle), "refusal \"%s\" does not say \"%s\"", why, needle);
  free(why);
}

static void send_json_text(struct peer *p, const char *json) {
  uint8_t header[FRAME_HEADER_LEN];
  frame_header_encode(header, FRAME_CONTROL, 0, (uint32_t)strlen(json));
  peer_send_bytes(p, header, sizeof header);
  peer_send_bytes(p, json, strlen(json));
}

static char *host_generation;

/* ---- checks after every case ---- */

/* Every string in a JSON value is printable UTF-8. */
static int json_is_clean(const cJSON *v) {
  if ((v->string && !peer_text_is_clean(v->string)) ||
      (cJSON_IsString(v) && !peer_text_is_clean(v->valuestring))) {
    fprintf(stderr, "unprintable: %s: %s\n", v->string ? v->string : "",
            cJSON_IsString(v) ? v->valuestring : "");
    return 0;
  }
  const cJSON *c;
  cJSON_ArrayForEach(c, v) {
    if (!json_is_clean(c))
      return 0;
  }
  return 1;
}

static void check_host(const char *after) {
  CHECK_MSG(kill(host.pid, 0) == 0 && proc_wait(&host, 0) == -1, "the host died after case %s:\n%s",
            after, proc_read_log(host.log));
  cJSON *status = agents_status();
  CHECK_MSG(json_is_clean(status), "after %s the status holds unprintable text", after);
  const cJSON *good = agents_guest(status, "good");
  CHECK_MSG(good && cJSON_IsTrue(cJSON_GetObjectItem(good, "connected")),
            "after %s the well-behaved guest is no longer connected", after);
  cJSON_Delete(status);
}

/* ---- the cases ---- */

static void frame_bad_magic(void) {
  struct peer p;
  connect_host(&p);
  peer_send_bytes(&p, "GET / HTTP/1.1\r\n\r\n", 18);
  CHECK(peer_wait_closed(&p, 10000));
  peer_close(&p);
}

static void frame_bad_version(void) {
  struct peer p;
  connect_host(&p);
  uint8_t h[FRAME_HEADER_LEN];
  frame_header_encode(h, FRAME_CONTROL, 0, 2);
  h[4] = 9;
  peer_send_bytes(&p, h, sizeof h);
  CHECK(peer_wait_closed(&p, 10000));
  peer_close(&p);
}

static void frame_unknown_type(void) {
  struct peer p;
  connect_host(&p);
  uint8_t h[FRAME_HEADER_LEN];
  frame_header_encode(h, FRAME_CONTROL, 0, 2);
  h[5] = 7;
  peer_send_bytes(&p, h, sizeof h);
  CHECK(peer_wait_closed(&p, 10000));
  peer_close(&p);
}

static void frame_oversized_control(void) {
  struct peer p;
  connect_host(&p);
  uint8_t h[FRAME_HEADER_LEN];
  frame_header_encode(h, FRAME_CONTROL, 0, FRAME_CONTROL_MAX + 1);
  peer_send_bytes(&p, h, sizeof h);
  CHECK(peer_wait_closed(&p, 10000));
  peer_close(&p);
}

static void frame_oversized_data(void) {
  struct peer p;
  connect_host(&p);
  uint8_t h[FRAME_HEADER_LEN];
  frame_header_encode(h, FRAME_DATA, 0, 0xffffffffu);
  peer_send_bytes(&p, h, sizeof h);
  CHECK(peer_wait_closed(&p, 10000));
  peer_close(&p);
}

static void frame_truncated(void) {
  struct peer p;
  connect_host(&p);
  uint8_t h[FRAME_HEADER_LEN];
  frame_header_encode(h, FRAME_CONTROL, 0, 100);
  peer_send_bytes(&p, h, 7); /* half a header, then gone */
  peer_close(&p);
}

static void json_malformed(void) {
  struct peer p;
  connect_host(&p);
  send_json_text(&p, "{\"type\":\"hello\",");
  CHECK(peer_wait_closed(&p, 10000));
  peer_close(&p);
}

static void json_not_object(void) {
  struct peer p;
  connect_host(&p);
  send_json_text(&p, "[\"hello\"]");
  CHECK(peer_wait_closed(&p, 10000));
  peer_close(&p);
}

static void message_unknown_type(void) {
  struct peer p;
  connect_host(&p);
  send_json_text(&p, "{\"type\":\"format_disk\"}");
  CHECK(peer_wait_closed(&p, 10000));
  peer_close(&p);
}

static void message_before_hello(void) {
  struct peer p;
  connect_host(&p);
  peer_send_msg(&p, msg_new(MSG_INSTALLED));
  expect_refusal(&p, "not allowed while hello");
}

static void data_before_hello(void) {
  struct peer p;
  connect_host(&p);
  peer_send_data(&p, "boo", 3);
  expect_refusal(&p, "never sends data");
}

static void hello_without_name(void) {
  struct peer p;
  connect_host(&p);
  send_json_text(&p, "{\"type\":\"hello\",\"proto\":1,\"generation\":null}");
  expect_refusal(&p, "invalid proto, name, generation or caps");
}

static void hello_long_name(void) {
  struct peer p;
  char name[80];
  memset(name, 'n', 64);
  name[64] = 0;
  connect_host(&p);
  peer_send_msg(&p, hello_msg(name, NULL));
  expect_refusal(&p, "invalid proto, name, generation or caps");
}

static void hello_empty_name(void) {
  struct peer p;
  connect_host(&p);
  peer_send_msg(&p, hello_msg("", NULL));
  expect_refusal(&p, "invalid proto, name, generation or caps");
}

static void hello_wrong_proto(void) {
  struct peer p;
  connect_host(&p);
  send_json_text(&p, "{\"type\":\"hello\",\"proto\":2,\"name\":\"p2\",\"generation\":null}");
  expect_refusal(&p, "protocol 2");
}

static void hello_bad_generation(void) {
  struct peer p;
  connect_host(&p);
  peer_send_msg(&p, hello_msg("badgen", "not-a-hash"));
  expect_refusal(&p, "invalid proto, name, generation or caps");
}

static void hello_bad_caps(void) {
  const char *bad[] = {
      "\"caps\":\"system_files\"",
      "\"caps\":[1]",
      "\"caps\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\",\"l\","
      "\"m\",\"n\",\"o\",\"p\",\"q\"]",
      "\"caps\":[\"a-capability-name-longer-than-32-bytes\"]",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct peer p;
    char json[512];
    snprintf(json, sizeof json,
             "{\"type\":\"hello\",\"proto\":1,\"name\":\"caps\",\"generation\":null,%s}", bad[i]);
    connect_host(&p);
    send_json_text(&p, json);
    expect_refusal(&p, "invalid proto, name, generation or caps");
  }
}

static void hello_twice(void) {
  struct peer p;
  hello(&p, "twice", host_generation);
  peer_send_msg(&p, hello_msg("twice", host_generation));
  expect_refusal(&p, "hello is not allowed while idle");
}

static void hello_then_silence(void) {
  struct peer p;
  connect_host(&p);
  expect_refusal(&p, "no hello within");
}

/* The crash that was: installed while a wanted blob is still pending. */
static void installed_while_sending(void) {
  struct peer p;
  struct offer o;
  hello_and_offer(&p, "stale", &o);
  size_t last = o.nblobs - 1;
  peer_send_msg(&p, want_msg(&o, &last, 1, 0, 0));
  cJSON *inst = msg_new(MSG_INSTALLED);
  cJSON_AddStringToObject(inst, "generation", o.generation);
  cJSON_AddBoolToObject(inst, "ok", 1);
  peer_send_msg(&p, inst);
  expect_refusal(&p, "installed is not allowed while sending");
  offer_free(&o);
}

/* In sync, so idle: an installed out of nowhere must not make it "in sync" by itself. */
static void installed_before_offer(void) {
  struct peer p;
  hello(&p, "eager", NULL);
  peer_recv_type(&p, MSG_OFFER); /* it lacks the generation, so it is offered one */
  cJSON *inst = msg_new(MSG_INSTALLED);
  cJSON_AddStringToObject(inst, "generation", host_generation);
  cJSON_AddBoolToObject(inst, "ok", 1);
  peer_send_msg(&p, inst);
  expect_refusal(&p, "installed is not allowed while offered");
  cJSON *status = agents_status();
  CHECK_MSG(!cJSON_IsTrue(cJSON_GetObjectItem(agents_guest(status, "eager"), "in_sync")),
            "a guest that received nothing is shown in sync");
  cJSON_Delete(status);
}

static void installed_other_generation(void) {
  struct peer p;
  struct offer o;
  hello_and_offer(&p, "othergen", &o);
  peer_send_msg(&p, want_msg(&o, NULL, 0, 0, 0));
  cJSON *inst = msg_new(MSG_INSTALLED);
  cJSON_AddStringToObject(inst, "generation",
                          "0000000000000000000000000000000000000000000000000000000000000000");
  cJSON_AddBoolToObject(inst, "ok", 1);
  peer_send_msg(&p, inst);
  expect_refusal(&p, "names a generation that was not offered");
  offer_free(&o);
}

static void want_unknown_hash(void) {
  struct peer p;
  struct offer o;
  hello_and_offer(&p, "unknown", &o);
  o.blobs[0].sha256[0] ^= 0xff;
  size_t first = 0;
  peer_send_msg(&p, want_msg(&o, &first, 1, 1 << 20, 0));
  expect_refusal(&p, "not in the manifest, or asked twice");
  offer_free(&o);
}

static void want_twice(void) {
  struct peer p;
  struct offer o;
  hello_and_offer(&p, "greedy", &o);
  size_t twice[2] = {o.nblobs - 1, o.nblobs - 1};
  peer_send_msg(&p, want_msg(&o, twice, 1, 1 << 20, 1));
  peer_send_msg(&p, want_msg(&o, twice, 1, -1, 0));
  expect_refusal(&p, "not in the manifest, or asked twice");
  offer_free(&o);
}

static void want_other_generation(void) {
  struct peer p;
  struct offer o;
  hello_and_offer(&p, "wrongwant", &o);
  o.generation[0] = o.generation[0] == 'a' ? 'b' : 'a';
  peer_send_msg(&p, want_msg(&o, NULL, 0, 1 << 20, 0));
  expect_refusal(&p, "names a generation that was not offered");
  offer_free(&o);
}

static void want_too_many_hashes(void) {
  struct peer p;
  struct offer o;
  hello_and_offer(&p, "toomany", &o);
  cJSON *m = want_msg(&o, NULL, 0, 1 << 20, 0);
  cJSON *hashes = cJSON_GetObjectItem(m, "hashes");
  for (int i = 0; i < 1025; i++)
    cJSON_AddItemToArray(hashes, cJSON_CreateString("x")); /* short: the count is the point */
  peer_send_msg(&p, m);
  expect_refusal(&p, "invalid generation, hashes, more or window");
  offer_free(&o);
}

static void want_window_past_cap(void) {
  struct peer p;
  struct offer o;
  hello_and_offer(&p, "bigwindow", &o);
  peer_send_msg(&p, want_msg(&o, NULL, 0, 1 << 30, 1));
  peer_send_msg(&p, want_msg(&o, NULL, 0, 1 << 30, 0)); /* adds up past 1 GiB */
  expect_refusal(&p, "past");
  offer_free(&o);
}

static void credit_past_cap(void) {
  struct peer p;
  struct offer o;
  hello_and_offer(&p, "credit", &o);
  size_t last = o.nblobs - 1;
  peer_send_msg(&p, want_msg(&o, &last, 1, 0, 0));
  for (int i = 0; i < 3; i++) {
    cJSON *c = msg_new(MSG_CREDIT);
    cJSON_AddNumberToObject(c, "bytes", (double)(1 << 29));
    peer_send_msg(&p, c);
  }
  expect_refusal(&p, "credit: grows past");
  offer_free(&o);
}

static void credit_while_idle(void) {
  struct peer p;
  hello(&p, "idlecredit", host_generation);
  cJSON *c = msg_new(MSG_CREDIT);
  cJSON_AddNumberToObject(c, "bytes", 100);
  peer_send_msg(&p, c);
  expect_refusal(&p, "credit is not allowed while idle");
}

static void data_after_hello(void) {
  struct peer p;
  hello(&p, "datasender", host_generation);
  peer_send_data(&p, "files from a guest", 18);
  expect_refusal(&p, "never sends data");
}

static void report_not_object(void) {
  struct peer p;
  hello(&p, "badreport", host_generation);
  send_json_text(&p, "{\"type\":\"report\",\"status\":\"fine\"}");
  expect_refusal(&p, "missing status object");
}

/* A name and report made to clear the screen, forge log lines and break the JSON. */
static void text_attacks(void) {
  struct peer p;
  connect_host(&p);
  send_json_text(&p, "{\"type\":\"hello\",\"proto\":1,\"generation\":null,"
                     "\"name\":\"evil\\u001b[2J\\nFORGED line \\u009b \xff\xfe\","
                     "\"status\":{\"nvidia_smi\":\"\\u001b]0;pwned\\u0007\","
                     "\"kernel\":\"5.15\\r\\nFORGED kernel\",\"os\":\"\xc3\x28\","
                     "\"\\u001bkey\":1}}");
  CHECK(peer_recv_type(&p, MSG_WELCOME));
  peer_close(&p);
  cJSON *status = agents_status();
  const cJSON *g = NULL, *item;
  cJSON_ArrayForEach(item, cJSON_GetObjectItem(status, "guests")) {
    const cJSON *name = cJSON_GetObjectItem(item, "name");
    if (strncmp(name->valuestring, "evil", 4) == 0)
      g = item;
  }
  CHECK_MSG(g, "the guest with the hostile name is not listed");
  CHECK(json_is_clean(g));
  CHECK(strstr(cJSON_GetObjectItem(g, "name")->valuestring, "FORGED line"));
  cJSON_Delete(status);
  char *log = proc_read_log(host.log);
  CHECK_MSG(!strchr(log, '\033'), "an escape sequence reached the host's log");
  CHECK_MSG(!strstr(log, "\nFORGED"), "a guest forged a log line");
  free(log);
}

/* A real install error is long: it is kept (cut for display), not refused. */
static void long_install_error(void) {
  struct peer p;
  struct offer o;
  hello_and_offer(&p, "enospc", &o);
  peer_send_msg(&p, want_msg(&o, NULL, 0, 0, 0));
  char error[3001];
  memset(error, 'x', 3000);
  memcpy(error, "ENOSPC \033[31m", 12);
  error[3000] = 0;
  cJSON *inst = msg_new(MSG_INSTALLED);
  cJSON_AddStringToObject(inst, "generation", o.generation);
  cJSON_AddBoolToObject(inst, "ok", 0);
  cJSON_AddStringToObject(inst, "error", error);
  peer_send_msg(&p, inst);
  /* the host answers with a later offer only after the retry delay; a status shows it */
  cJSON *status = agents_status();
  const cJSON *g = agents_guest(status, "enospc");
  const cJSON *e = cJSON_GetObjectItem(cJSON_GetObjectItem(g, "last_push"), "error");
  CHECK_MSG(cJSON_IsString(e) && strlen(e->valuestring) >= 2990 && !strchr(e->valuestring, 033),
            "the install error did not reach the status in full and clean");
  CHECK_EQ_STR(cJSON_GetObjectItem(g, "state")->valuestring, "error");
  CHECK_MSG(!cJSON_IsNull(cJSON_GetObjectItem(g, "next_retry")), "no retry is scheduled");
  cJSON_Delete(status);
  peer_close(&p);
  offer_free(&o);
}

static void error_with_controls(void) {
  struct peer p;
  hello(&p, "shouter", host_generation);
  char text[10001];
  memset(text, 'y', 10000);
  memcpy(text, "\033[2J\nFORGED error", 17);
  text[10000] = 0;
  cJSON *e = msg_new(MSG_ERROR);
  cJSON_AddStringToObject(e, "message", text);
  peer_send_msg(&p, e);
  CHECK(peer_wait_closed(&p, 10000));
  peer_close(&p);
}

static void nested_report(void) {
  struct peer p;
  hello(&p, "deep", host_generation);
  struct buf b;
  buf_init(&b);
  buf_append_str(&b, "{\"type\":\"report\",\"status\":");
  for (int i = 0; i < 500; i++)
    buf_append_str(&b, "{\"a\":");
  buf_append_str(&b, "1");
  for (int i = 0; i < 500; i++)
    buf_append_str(&b, "}");
  buf_append_str(&b, "}");
  send_json_text(&p, (char *)b.data);
  buf_done(&b);
  /* cJSON refuses nesting past its own limit; either way the host goes on */
  peer_close(&p);
}

static void report_flood(void) {
  struct peer p;
  hello(&p, "flood", host_generation);
  char filler[2000];
  memset(filler, 'f', sizeof filler - 1);
  filler[sizeof filler - 1] = 0;
  for (int i = 0; i < 5000; i++) {
    cJSON *r = msg_new(MSG_REPORT);
    cJSON *st = cJSON_AddObjectToObject(r, "status");
    cJSON_AddStringToObject(st, "filler", filler);
    cJSON_AddNumberToObject(st, "n", i);
    peer_send_msg(&p, r);
  }
  peer_close(&p);
}

/* Wants everything, then reads nothing: closed after --write-timeout-ms. */
static void slow_reader(void) {
  struct peer p;
  struct offer o;
  hello_and_offer(&p, "sloth", &o);
  want_all(&p, &o, (double)(1 << 30));
  CHECK_MSG(peer_wait_closed(&p, 30000), "a guest that reads nothing is kept forever");
  peer_close(&p);
  offer_free(&o);
  char *log = proc_read_log(host.log);
  CHECK_MSG(strstr(log, "has read nothing for"), "no log line for the stalled guest");
  free(log);
}

/* Shuts its read side while the host sends: the host gets EPIPE, not SIGPIPE. */
static void shut_read_side(void) {
  struct peer p;
  struct offer o;
  hello_and_offer(&p, "shutter", &o);
  CHECK(shutdown(p.fd, SHUT_RD) == 0);
  want_all(&p, &o, (double)(64 << 20));
  CHECK(peer_wait_closed(&p, 30000));
  peer_close(&p);
  offer_free(&o);
}

static void vanish_mid_push(void) {
  struct peer p;
  struct offer o;
  hello_and_offer(&p, "vanish", &o);
  want_all(&p, &o, (double)(64 << 20));
  peer_close(&p); /* gone with megabytes on their way */
  offer_free(&o);
}

static void connection_flood(void) {
  enum { N = 80 };
  struct peer p[N];
  for (int i = 0; i < N; i++)
    connect_host(&p[i]);
  /* past --max-connections the host hangs up at once; the rest wait for their hello */
  int refused = 0;
  for (int i = 0; i < N; i++)
    refused += peer_wait_closed(&p[i], i < 40 ? 0 : 5000);
  CHECK_MSG(refused >= N - 64, "only %d of %d connections past the limit were refused", refused, N);
  for (int i = 0; i < N; i++)
    peer_close(&p[i]);
}

/* Two VMs cloned from one image claim one name: no flapping, both told, status shows it. */
static void name_conflict(void) {
  struct peer a, b, c;
  hello(&a, "twin", host_generation);
  hello(&b, "twin", host_generation); /* a reconnect replaces the older connection once */
  CHECK(peer_wait_closed(&a, 10000));
  peer_close(&a);
  connect_host(&c);
  peer_send_msg(&c, hello_msg("twin", host_generation));
  char *code = NULL;
  char *why = peer_expect_refusal(&c, &code);
  CHECK_MSG(strstr(why, "name in use by another guest"), "refusal: %s", why);
  CHECK_EQ_STR(code, "name_conflict");
  free(why);
  free(code);
  cJSON *notice = peer_recv_type(&b, MSG_NOTICE);
  CHECK_MSG(notice, "the guest holding the name was not told");
  CHECK_EQ_STR(cJSON_GetObjectItem(notice, "code")->valuestring, "name_conflict");
  cJSON *status = agents_status();
  const cJSON *g = agents_guest(status, "twin");
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(g, "connected")));
  CHECK_MSG(cJSON_IsObject(cJSON_GetObjectItem(g, "conflict")), "status does not show the clash");
  cJSON_Delete(status);
  peer_close(&b);
}

/* More distinct guests than --max-guests: the longest offline go, nobody is refused. */
static void many_names(void) {
  for (int i = 0; i < 150; i++) {
    struct peer p;
    char name[32];
    snprintf(name, sizeof name, "vm-%03d", i);
    hello(&p, name, host_generation);
    peer_close(&p);
  }
  cJSON *status = agents_status();
  CHECK_MSG(cJSON_GetArraySize(cJSON_GetObjectItem(status, "guests")) <= 100,
            "the registry grew past --max-guests");
  CHECK_MSG(agents_guest(status, "vm-149"), "the newest guest was refused");
  CHECK_MSG(!agents_guest(status, "vm-000"), "the longest offline guest was kept");
  cJSON_Delete(status);
}

static const struct hostile_case {
  const char *name;
  void (*run)(void);
} cases[] = {
    {"frame_bad_magic", frame_bad_magic},
    {"frame_bad_version", frame_bad_version},
    {"frame_unknown_type", frame_unknown_type},
    {"frame_oversized_control", frame_oversized_control},
    {"frame_oversized_data", frame_oversized_data},
    {"frame_truncated", frame_truncated},
    {"json_malformed", json_malformed},
    {"json_not_object", json_not_object},
    {"message_unknown_type", message_unknown_type},
    {"message_before_hello", message_before_hello},
    {"data_before_hello", data_before_hello},
    {"hello_without_name", hello_without_name},
    {"hello_long_name", hello_long_name},
    {"hello_empty_name", hello_empty_name},
    {"hello_wrong_proto", hello_wrong_proto},
    {"hello_bad_generation", hello_bad_generation},
    {"hello_bad_caps", hello_bad_caps},
    {"hello_twice", hello_twice},
    {"hello_then_silence", hello_then_silence},
    {"installed_while_sending", installed_while_sending},
    {"installed_before_offer", installed_before_offer},
    {"installed_other_generation", installed_other_generation},
    {"want_unknown_hash", want_unknown_hash},
    {"want_twice", want_twice},
    {"want_other_generation", want_other_generation},
    {"want_too_many_hashes", want_too_many_hashes},
    {"want_window_past_cap", want_window_past_cap},
    {"credit_past_cap", credit_past_cap},
    {"credit_while_idle", credit_while_idle},
    {"data_after_hello", data_after_hello},
    {"report_not_object", report_not_object},
    {"text_attacks", text_attacks},
    {"long_install_error", long_install_error},
    {"error_with_controls", error_with_controls},
    {"nested_report", nested_report},
    {"report_flood", report_flood},
    {"slow_reader", slow_reader},
    {"shut_read_side", shut_read_side},
    {"vanish_mid_push", vanish_mid_push},
    {"connection_flood", connection_flood},
    {"name_conflict", name_conflict},
    {"many_names", many_names},
};

static const struct fixture_spec source_spec = {.seed = 7,
                                                .packages = 2,
                                                .files_per_package = 20,
                                                .small_max = 20000,
                                                .big_files = 2,
                                                .big_min = 12 << 20,
                                                .big_max = 16 << 20};

TEST(e2e_hostile_guest) {
  const char *src = test_path("src");
  CHECK(fixture_make(src, &source_spec) == 0);
  char *extra[] = {"--hello-timeout-ms",
                   "1000",
                   "--write-timeout-ms",
                   "1500",
                   "--max-connections",
                   "64",
                   "--max-guests",
                   "100",
                   "--retry-min-ms",
                   "60000",
                   "--http",
                   "127.0.0.1:0",
                   NULL};
  agents_start_host(&host, src, NULL, extra);
  sock_path = test_path("guests.sock");
  host_generation = agents_host_generation();
  struct proc good;
  const char *root = test_path("good-root");
  agents_start_guest(&good, "good", root);
  agents_push_ok("good");
  pid_t pid = host.pid;
  const char *only = getenv("GPUPV_HOSTILE_CASE"); /* to debug one case */
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    if (only && strcmp(only, cases[i].name) != 0)
      continue;
    fprintf(stderr, "hostile guest case %s\n", cases[i].name);
    cases[i].run();
    CHECK_EQ_INT(host.pid, pid);
    check_host(cases[i].name);
  }
  /* the well-behaved guest still gets a new generation */
  char renamed[256];
  CHECK(fixture_bump(src, 99, renamed, sizeof renamed) == 0);
  agents_push_ok("good");
  agents_check_installed(root, src);
  long hwm = proc_status_kb(host.pid, "VmHWM");
  fprintf(stderr, "host peak RSS %ld KiB\n", hwm);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  /* (sanitizers keep freed memory and shadow maps: their figure says nothing) */
  CHECK_MSG(hwm > 0 && hwm <= HOST_RSS_LIMIT_KB, "the host's peak memory was %ld KiB", hwm);
#endif
  proc_stop(&good);
  proc_stop(&host);
  free(host_generation);
}
