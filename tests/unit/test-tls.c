/* TLS 1.3 over memory (net/tls.c) between two sessions in one process, and the guest key
 * allowlist's file format (host-agent/guest-keys.c). */
#include "common/err.h"
#include "common/sign.h"
#include "common/text.h"
#include "net/tls.h"
#include "net/uri.h"
#include "tests/support/test.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* Moves whatever from has made to to; 1 when something moved. */
static int pump(struct tls_session *from, struct tls_session *to) {
  uint8_t *mem;
  size_t len;
  CHECK(tls_session_take_output(from, &mem, &len) == 0);
  if (!len)
    return 0;
  CHECK(tls_session_feed(to, mem, len) == 0);
  free(mem);
  return 1;
}

struct pair {
  struct sign_key *ckey, *skey;
  struct tls_identity *cid, *sid;
  struct tls_session *c, *s;
  int c_done, s_done, c_err, s_err;
};

static void pair_start(struct pair *p) {
  memset(p, 0, sizeof *p);
  CHECK(sign_key_generate(&p->ckey) == 0 && sign_key_generate(&p->skey) == 0);
  CHECK(tls_identity_new(p->ckey, TLS_CLIENT, "client", &p->cid) == 0);
  CHECK(tls_identity_new(p->skey, TLS_SERVER, "server", &p->sid) == 0);
  CHECK(tls_session_new(p->cid, &p->c) == 0 && tls_session_new(p->sid, &p->s) == 0);
}

/* Runs both handshakes to their end. */
static void pair_handshake(struct pair *p) {
  for (int round = 0; round < 20; round++) {
    if (!p->c_done && !p->c_err) {
      int r = tls_session_handshake(p->c);
      p->c_done = r == 1, p->c_err = r < 0;
    }
    int moved = pump(p->c, p->s);
    if (!p->s_done && !p->s_err) {
      int r = tls_session_handshake(p->s);
      p->s_done = r == 1, p->s_err = r < 0;
    }
    moved |= pump(p->s, p->c);
    if (!moved && (p->c_done || p->c_err) && (p->s_done || p->s_err))
      return;
  }
}

static void pair_free(struct pair *p) {
  tls_session_free(p->c);
  tls_session_free(p->s);
  tls_identity_free(p->cid);
  tls_identity_free(p->sid);
  sign_key_free(p->ckey);
  sign_key_free(p->skey);
}

TEST(unit_tls_each_side_proves_its_ed25519_key) {
  struct pair p;
  pair_start(&p);
  pair_handshake(&p);
  CHECK_MSG(p.c_done && p.s_done, "handshake: client %d/%d, server %d/%d (%s / %s)", p.c_done,
            p.c_err, p.s_done, p.s_err, tls_session_error(p.c), tls_session_error(p.s));
  uint8_t got[SIGN_KEY_LEN], want[SIGN_KEY_LEN];
  CHECK(tls_session_peer_key(p.c, got) == 0);
  sign_key_public(p.skey, want);
  CHECK_MSG(memcmp(got, want, SIGN_KEY_LEN) == 0, "the client sees another key than the server's");
  CHECK(tls_session_peer_key(p.s, got) == 0);
  sign_key_public(p.ckey, want);
  CHECK_MSG(memcmp(got, want, SIGN_KEY_LEN) == 0, "the server sees another key than the client's");
  /* plaintext both ways, larger than one record */
  size_t n = 100000, got_n = 0;
  uint8_t *data = malloc(n), *back = malloc(n);
  for (size_t i = 0; i < n; i++)
    data[i] = (uint8_t)(i * 7);
  CHECK(tls_session_write(p.c, data, n) == 0);
  pump(p.c, p.s);
  while (got_n < n) {
    size_t k;
    CHECK(tls_session_read(p.s, back + got_n, n - got_n, &k) == 0);
    CHECK(k > 0);
    got_n += k;
  }
  CHECK(memcmp(data, back, n) == 0);
  /* a flipped ciphertext byte is a broken record, not plaintext */
  CHECK(tls_session_write(p.s, data, 64) == 0);
  uint8_t *mem;
  size_t len;
  CHECK(tls_session_take_output(p.s, &mem, &len) == 0 && len > 64);
  mem[len - 3] ^= 1;
  CHECK(tls_session_feed(p.c, mem, len) == 0);
  free(mem);
  size_t k;
  CHECK(tls_session_read(p.c, back, n, &k) == GPUPV_ETLS && k == 0);
  free(data);
  free(back);
  pair_free(&p);
}

TEST(unit_tls_close_notify_reads_as_end) {
  struct pair p;
  pair_start(&p);
  pair_handshake(&p);
  CHECK(p.c_done && p.s_done);
  tls_session_close_notify(p.s);
  pump(p.s, p.c);
  uint8_t b[16];
  size_t k;
  CHECK(tls_session_read(p.c, b, sizeof b, &k) == UV_EOF);
  pair_free(&p);
}

TEST(unit_tls_refuses_what_is_not_tls) {
  struct sign_key *key;
  struct tls_identity *id;
  struct tls_session *s;
  CHECK(sign_key_generate(&key) == 0 && tls_identity_new(key, TLS_SERVER, "s", &id) == 0);
  CHECK(tls_session_new(id, &s) == 0);
  static const char plain[] = "GPPV\x00\x01\x00\x00\x00\x10{\"type\":\"hello\"}";
  CHECK(tls_session_feed(s, (const uint8_t *)plain, sizeof plain - 1) == 0);
  CHECK(tls_session_handshake(s) == GPUPV_ETLS);
  CHECK(strstr(tls_session_error(s), "handshake") != NULL);
  tls_session_free(s);
  tls_identity_free(id);
  sign_key_free(key);
}

TEST(unit_uri_tls) {
  struct uri u;
  const char *reason = NULL;
  CHECK(uri_parse("tls://10.0.2.2:18257", &u, NULL) == 0 && u.kind == URI_TLS && u.port == 18257);
  CHECK(strcmp(u.host, "10.0.2.2") == 0);
  CHECK(uri_parse("tls://[fd00::1]:1", &u, NULL) == 0 && strcmp(u.host, "fd00::1") == 0);
  CHECK(uri_parse("tls://10.0.2.2", &u, &reason) == GPUPV_EURI && strstr(reason, "tls://"));
  CHECK(uri_parse("tls://10.0.2.2:70000", &u, &reason) == GPUPV_EURI);
}
