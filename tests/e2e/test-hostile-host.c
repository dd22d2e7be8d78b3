/*
 * A hostile host built on proto/: it installs one good generation, then sends traversal paths,
 * wrong hashes, oversized frames, garbage and messages out of order. The guest agent must
 * refuse each with a log line, keep running, write nothing outside its root and keep the good
 * generation intact.
 */
#include "common/buf.h"
#include "common/fs.h"
#include "common/sign.h"
#include "common/text.h"
#include "proto/frame.h"
#include "proto/manifest.h"
#include "proto/msg.h"
#include "proto/reader.h"
#include "tests/support/agents.h"
#include "tests/support/peer.h"
#include "tests/support/test.h"
#include "tests/support/tree.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void handshake(struct peer *p, uint8_t *ret_gen, int *ret_has_gen) {
  enum msg_type type;
  cJSON *hello = peer_recv(p, &type);
  CHECK(hello && type == MSG_HELLO);
  int has;
  uint8_t gen[HASH_LEN];
  CHECK(msg_get_hash_opt(hello, "generation", gen, &has) == 0);
  if (ret_gen && has)
    memcpy(ret_gen, gen, HASH_LEN);
  if (ret_has_gen)
    *ret_has_gen = has;
  cJSON *welcome = msg_new(MSG_WELCOME);
  cJSON_AddNumberToObject(welcome, "proto", PROTO_VERSION);
  cJSON_AddStringToObject(welcome, "host", "hostile");
  peer_send_msg(p, welcome);
}

static struct sign_key *host_key;

/* len bytes as data frames of at most FRAME_DATA_MAX each. */
static void send_in_frames(struct peer *p, const char *data, size_t len) {
  for (size_t off = 0; off < len; off += FRAME_DATA_MAX)
    peer_send_data(p, data + off, len - off < FRAME_DATA_MAX ? len - off : FRAME_DATA_MAX);
}

/* Offers a manifest signed with key (NULL: unsigned), claiming claimed_id when given. */
static void offer_signed(struct peer *p, const char *manifest_text, const uint8_t *claimed_id,
                         const struct sign_key *key) {
  uint8_t id[HASH_LEN], pub[SIGN_KEY_LEN], sig[SIGN_SIG_LEN];
  char hex[HASH_HEX_LEN + 1], key_hex[2 * SIGN_KEY_LEN + 1], sig_hex[2 * SIGN_SIG_LEN + 1];
  hash_bytes(manifest_text, strlen(manifest_text), id);
  if (claimed_id)
    memcpy(id, claimed_id, HASH_LEN);
  hash_to_hex(id, hex);
  cJSON *o = msg_new(MSG_OFFER);
  cJSON_AddStringToObject(o, "generation", hex);
  cJSON_AddNumberToObject(o, "size", (double)strlen(manifest_text));
  if (key) {
    sign_key_public(key, pub);
    CHECK(sign_generation(key, id, sig) == 0);
    text_hex_encode(pub, SIGN_KEY_LEN, key_hex);
    text_hex_encode(sig, SIGN_SIG_LEN, sig_hex);
    cJSON_AddStringToObject(o, "key", key_hex);
    cJSON_AddStringToObject(o, "signature", sig_hex);
  }
  peer_send_msg(p, o);
  send_in_frames(p, manifest_text, strlen(manifest_text));
}

static void offer(struct peer *p, const char *manifest_text, const uint8_t *claimed_id) {
  offer_signed(p, manifest_text, claimed_id, host_key);
}

static const char good_content[] = "good driver bytes";
static const char new_content[] = "new driver bytes!";

/* A manifest of one package file with the given content; returns new canonical text. */
static char *one_file_manifest(const char *pkg, const char *path, const char *content) {
  struct manifest m = {0};
  uint8_t sha[HASH_LEN];
  int index;
  hash_bytes(content, strlen(content), sha);
  CHECK(manifest_add_package(&m, pkg, "1.0", "Hostile", &index) == 0);
  CHECK(manifest_add_file(&m, index, path, strlen(content), 0644, sha, ORIGIN_NONE) == 0);
  struct buf b;
  buf_init(&b);
  CHECK(manifest_encode(&m, &b, NULL) == 0);
  manifest_done(&m);
  return (char *)buf_steal(&b);
}

/* The same shape, written by hand so it can hold what the encoder refuses. */
static char *raw_manifest(const char *pkg, const char *path, const char *content) {
  uint8_t sha[HASH_LEN];
  char hex[HASH_HEX_LEN + 1];
  hash_bytes(content, strlen(content), sha);
  hash_to_hex(sha, hex);
  char *text = malloc(1024);
  snprintf(
      text, 1024,
      "{\"format\":1,\"packages\":[{\"name\":\"%s\",\"version\":\"1.0\",\"vendor\":\"Hostile\","
      "\"files\":[{\"path\":\"%s\",\"size\":%zu,\"mode\":420,\"sha256\":\"%s\"}]}],"
      "\"libs\":[]}",
      pkg, path, strlen(content), hex);
  return text;
}

static void serve_blob(struct peer *p, const char *content, const char *claimed) {
  uint8_t sha[HASH_LEN];
  hash_bytes(claimed, strlen(claimed), sha);
  cJSON *b = msg_new(MSG_BLOB);
  msg_add_hash(b, "sha256", sha);
  cJSON_AddNumberToObject(b, "size", (double)strlen(content));
  peer_send_msg(p, b);
  send_in_frames(p, content, strlen(content));
}

/* One good push: the generation every later attack must leave intact. */
static void good_push(int lfd, struct peer *p) {
  enum msg_type type;
  peer_accept(lfd, p);
  handshake(p, NULL, NULL);
  char *m = one_file_manifest("pkg_a", "x64/good.dll", good_content);
  offer(p, m, NULL);
  cJSON *want = peer_recv(p, &type);
  CHECK(want && type == MSG_WANT);
  CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(want, "hashes")), 1);
  serve_blob(p, good_content, good_content);
  cJSON *msg;
  while ((msg = peer_recv(p, &type)) && type == MSG_CREDIT)
    ;
  CHECK_MSG(msg && type == MSG_INSTALLED && cJSON_IsTrue(cJSON_GetObjectItem(msg, "ok")),
            "the good generation was not installed");
  peer_close(p);
  free(m);
}

static int contains_evil(const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    return 0;
  struct dirent *de;
  int found = 0;
  while (!found && (de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
      continue;
    if (strstr(de->d_name, "evil"))
      found = 1;
    else if (de->d_type == DT_DIR) {
      char sub[2048];
      snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name);
      found = contains_evil(sub);
    }
  }
  closedir(d);
  return found;
}

TEST(e2e_hostile_host) {
  const char *root = test_path("guest1");
  int lfd = peer_listen_unix(test_path("guests.sock"));
  struct proc guest;
  struct peer p;
  CHECK(sign_key_generate(&host_key) == 0);
  agents_spawn_guest(&guest, "g1", root);
  good_push(lfd, &p);
  char good_dir[1024];
  struct tree good, now;
  snprintf(good_dir, sizeof good_dir, "%s/usr/lib/wsl/drivers", root);
  tree_list(good_dir, &good);
  CHECK_EQ_INT(good.n, 3); /* pkg_a, pkg_a/x64, pkg_a/x64/good.dll */

  struct {
    const char *what, *pkg, *path, *expect;
  } paths[] = {
      {"traversal", "pkg_a", "../../../../evil", "refused"},
      {"absolute path", "pkg_a", "/tmp/evil", "refused"},
      {"empty component", "pkg_a", "x64//evil", "refused"},
      {"dot component", "pkg_a", "./evil", "refused"},
      {"traversal in the package name", "..", "evil", "refused"},
      {"Windows device name", "pkg_a", "x64/NUL.evil", "refused"},
      {"colon", "pkg_a", "x64/evil:stream", "refused"},
  };
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
    peer_accept(lfd, &p);
    handshake(&p, NULL, NULL);
    char *m = raw_manifest(paths[i].pkg, paths[i].path, "evil");
    offer(&p, m, NULL);
    char *why = peer_expect_refusal(&p, NULL);
    CHECK_MSG(strstr(why, paths[i].expect), "%s: guest said '%s'", paths[i].what, why);
    free(why);
    free(m);
  }

  /* Unsigned, and signed by a key other than the one pinned at first contact. */
  char *m_sig = one_file_manifest("pkg_a", "x64/good.dll", new_content);
  struct sign_key *stranger;
  CHECK(sign_key_generate(&stranger) == 0);
  const struct sign_key *keys[] = {NULL, stranger};
  const char *expect[] = {"unsigned", "trusts"};
  for (int i = 0; i < 2; i++) {
    peer_accept(lfd, &p);
    handshake(&p, NULL, NULL);
    offer_signed(&p, m_sig, NULL, keys[i]);
    char *said = peer_expect_refusal(&p, NULL);
    CHECK_MSG(strstr(said, expect[i]), "guest said '%s'", said);
    free(said);
  }
  sign_key_free(stranger);
  free(m_sig);

  /* A manifest that does not hash to the generation it is offered as. */
  peer_accept(lfd, &p);
  handshake(&p, NULL, NULL);
  char *m2 = one_file_manifest("pkg_a", "x64/good.dll", new_content);
  uint8_t other[HASH_LEN] = {1, 2, 3};
  offer(&p, m2, other);
  char *why = peer_expect_refusal(&p, NULL);
  CHECK_MSG(strstr(why, "does not hash"), "guest said '%s'", why);
  free(why);

  /* A blob whose bytes do not match its hash. */
  peer_accept(lfd, &p);
  handshake(&p, NULL, NULL);
  offer(&p, m2, NULL);
  enum msg_type type;
  cJSON *want = peer_recv(&p, &type);
  CHECK(want && type == MSG_WANT);
  serve_blob(&p, "NEW driver bytes!", new_content); /* same size, different bytes */
  why = peer_expect_refusal(&p, NULL);
  CHECK_MSG(strstr(why, "does not match its hash"), "guest said '%s'", why);
  free(why);
  free(m2);

  /* A frame over the size limit, refused from its header alone. */
  peer_accept(lfd, &p);
  handshake(&p, NULL, NULL);
  uint8_t header[FRAME_HEADER_LEN];
  frame_header_encode(header, FRAME_DATA, 0, FRAME_DATA_MAX + 1);
  peer_send_bytes(&p, header, sizeof header);
  CHECK(peer_recv(&p, &type) == NULL);
  peer_close(&p);

  /* Messages out of order: a blob before any offer, an offer before the welcome. */
  peer_accept(lfd, &p);
  handshake(&p, NULL, NULL);
  serve_blob(&p, good_content, good_content);
  why = peer_expect_refusal(&p, NULL);
  CHECK_MSG(strstr(why, "not expected"), "guest said '%s'", why);
  free(why);
  peer_accept(lfd, &p);
  char *m3 = one_file_manifest("pkg_a", "x64/good.dll", new_content);
  offer(&p, m3, NULL);
  why = peer_expect_refusal(&p, NULL);
  CHECK_MSG(strstr(why, "not expected"), "guest said '%s'", why);
  free(why);
  free(m3);

  /* Garbage instead of a frame. */
  peer_accept(lfd, &p);
  peer_send_bytes(&p, "GET / HTTP/1.1\r\n\r\n", 18);
  CHECK(peer_recv(&p, &type) == NULL || type == MSG_HELLO);
  peer_close(&p);

  /* The host sends a big blob, then stops reading: the guest returns credit as it works
   * through what arrived, and those writes meet a shut read side (EPIPE, never SIGPIPE). */
  size_t big_len = 8u << 20;
  char *big = malloc(big_len + 1);
  for (size_t i = 0; i < big_len; i++)
    big[i] = (char)('A' + i % 26);
  big[big_len] = 0;
  peer_accept(lfd, &p);
  handshake(&p, NULL, NULL);
  char *m4 = one_file_manifest("pkg_a", "x64/big.dll", big);
  offer(&p, m4, NULL);
  free(m4);
  CHECK_MSG(peer_recv_type(&p, MSG_WANT), "the guest did not ask for the big blob");
  serve_blob(&p, big, big);
  CHECK(shutdown(p.fd, SHUT_RD) == 0);
  CHECK_MSG(peer_wait_closed(&p, 30000), "the guest kept a connection it cannot write to");
  peer_close(&p);
  free(big);
  /* a guest killed by SIGPIPE would never come back for the next step */

  /* 8 MiB, then 64 MiB (the limit) of bare numbers, validly signed: refused before a parse
   * tree many times its size is built, so the guest's peak memory stays within 32 MiB + 4 x M
   * (without the check 8 MiB reached 337 MiB). */
  for (size_t mib = 8; mib <= 64; mib *= 8) {
    size_t numbers_len = mib << 20;
    char *numbers = malloc(numbers_len + 1);
    numbers[0] = '[';
    for (size_t i = 1; i + 1 < numbers_len; i += 2) {
      numbers[i] = '1';
      numbers[i + 1] = ',';
    }
    numbers[numbers_len - 2] = '1'; /* valid JSON: no comma before the bracket */
    numbers[numbers_len - 1] = ']';
    numbers[numbers_len] = 0;
    peer_accept(lfd, &p);
    handshake(&p, NULL, NULL);
    offer(&p, numbers, NULL);
    free(numbers);
    why = peer_expect_refusal(&p, NULL);
    CHECK_MSG(strstr(why, "more JSON values"), "guest said '%s'", why);
    free(why);
    long peak_kb = proc_status_kb(guest.pid, "VmHWM");
    fprintf(stderr, "guest peak after a %zu MiB manifest of numbers: %ld KiB\n", mib, peak_kb);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    CHECK_MSG(peak_kb > 0 && peak_kb <= (long)(32 + 4 * mib) * 1024,
              "the guest's peak was %ld KiB after %zu MiB", peak_kb, mib);
#else
    (void)peak_kb; /* sanitizers keep freed memory and shadow maps: their figure says nothing */
#endif
  }

  /* Still running, still on the good generation, nothing written outside the root. */
  peer_accept(lfd, &p);
  uint8_t gen[HASH_LEN];
  int has_gen;
  handshake(&p, gen, &has_gen);
  CHECK_MSG(has_gen, "the guest lost its installed generation");
  peer_close(&p);
  tree_list(good_dir, &now);
  char diff[512];
  CHECK_MSG(tree_equal(&good, &now, diff, sizeof diff), "installed tree changed: %s", diff);
  CHECK_MSG(!contains_evil(test_dir()), "a hostile file was written");
  char *log = proc_read_log(test_path("guest-g1.log"));
  CHECK_MSG(strstr(log, "host \"hostile\" (unix:"), "log lines do not name the peer:\n%s", log);
  CHECK_MSG(strstr(log, "frame larger than the limit"), "no log line for the oversized frame");
  free(log);
  tree_free(&good);
  tree_free(&now);
  proc_stop(&guest);
  sign_key_free(host_key);
  close(lfd);
}
