#include "net/tls.h"

#include "common/err.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

struct tls_identity {
  SSL_CTX *ctx;
  enum tls_role role;
};

struct tls_session {
  SSL *ssl;
  BIO *in, *out; /* owned by ssl */
  char error[160];
};

/* Any certificate is taken here; its key is what is checked, by the caller, once the handshake
 * proved the peer holds it. Only an Ed25519 key can be one we trust. */
static int accept_ed25519(int ok, X509_STORE_CTX *store) {
  (void)ok;
  if (X509_STORE_CTX_get_error_depth(store) != 0)
    return 1;
  X509 *cert = X509_STORE_CTX_get_current_cert(store);
  EVP_PKEY *key = cert ? X509_get0_pubkey(cert) : NULL;
  return key && EVP_PKEY_get_id(key) == EVP_PKEY_ED25519;
}

static X509 *self_signed(EVP_PKEY *key, const char *cn) {
  X509 *x = X509_new();
  X509_NAME *name = x ? X509_get_subject_name(x) : NULL;
  unsigned char serial[8];
  BIGNUM *bn = NULL;
  int ok =
      name && X509_set_version(x, 2) && RAND_bytes(serial, sizeof serial) == 1 &&
      (bn = BN_bin2bn(serial, sizeof serial, NULL)) &&
      BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) &&
      X509_gmtime_adj(X509_getm_notBefore(x), -86400) &&
      X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 3650) &&
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) &&
      X509_set_issuer_name(x, name) && X509_set_pubkey(x, key) &&
      X509_sign(x, key, NULL) > 0; /* Ed25519 signs without a separate digest */
  BN_free(bn);
  if (!ok) {
    X509_free(x);
    return NULL;
  }
  return x;
}

int tls_identity_new(const struct sign_key *key, enum tls_role role, const char *cn,
                     struct tls_identity **ret) {
  EVP_PKEY *pkey = sign_key_pkey(key);
  struct tls_identity *id = calloc(1, sizeof *id);
  X509 *cert = NULL;
  if (!id)
    return UV_ENOMEM;
  id->role = role;
  id->ctx = SSL_CTX_new(role == TLS_SERVER ? TLS_server_method() : TLS_client_method());
  int ok = id->ctx && SSL_CTX_set_min_proto_version(id->ctx, TLS1_3_VERSION) &&
           SSL_CTX_set_max_proto_version(id->ctx, TLS1_3_VERSION) &&
           (cert = self_signed(pkey, cn)) && SSL_CTX_use_certificate(id->ctx, cert) == 1 &&
           SSL_CTX_use_PrivateKey(id->ctx, pkey) == 1 && SSL_CTX_check_private_key(id->ctx) == 1;
  X509_free(cert);
  if (!ok) {
    tls_identity_free(id);
    ERR_clear_error();
    return GPUPV_ETLS;
  }
  /* both sides must present a key: the host's is pinned, the guest's may be allowlisted */
  SSL_CTX_set_verify(id->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, accept_ed25519);
  if (role == TLS_SERVER) {
    SSL_CTX_set_num_tickets(id->ctx, 0); /* no resumption: every connection proves its key */
    SSL_CTX_set_session_cache_mode(id->ctx, SSL_SESS_CACHE_OFF);
  }
  SSL_CTX_set_mode(id->ctx, SSL_MODE_RELEASE_BUFFERS);
  *ret = id;
  return 0;
}

void tls_identity_free(struct tls_identity *id) {
  if (!id)
    return;
  SSL_CTX_free(id->ctx);
  free(id);
}

int tls_session_new(const struct tls_identity *id, struct tls_session **ret) {
  struct tls_session *s = calloc(1, sizeof *s);
  if (!s)
    return UV_ENOMEM;
  s->ssl = SSL_new(id->ctx);
  s->in = BIO_new(BIO_s_mem());
  s->out = BIO_new(BIO_s_mem());
  if (!s->ssl || !s->in || !s->out) {
    SSL_free(s->ssl);
    BIO_free(s->in);
    BIO_free(s->out);
    free(s);
    return UV_ENOMEM;
  }
  /* an empty input buffer means "wait", not end of stream */
  BIO_set_mem_eof_return(s->in, -1);
  SSL_set_bio(s->ssl, s->in, s->out);
  if (id->role == TLS_SERVER)
    SSL_set_accept_state(s->ssl);
  else
    SSL_set_connect_state(s->ssl);
  *ret = s;
  return 0;
}

void tls_session_free(struct tls_session *s) {
  if (!s)
    return;
  SSL_free(s->ssl);
  free(s);
}

/* Keeps OpenSSL's reason for the log line and empties its error queue. */
static int failed(struct tls_session *s, const char *what) {
  unsigned long e = ERR_peek_last_error();
  char reason[128] = "";
  if (e)
    ERR_error_string_n(e, reason, sizeof reason);
  else
    snprintf(reason, sizeof reason, "the connection broke");
  snprintf(s->error, sizeof s->error, "%s: %s", what, reason);
  ERR_clear_error();
  return GPUPV_ETLS;
}

int tls_session_feed(struct tls_session *s, const uint8_t *data, size_t len) {
  while (len) {
    int chunk = len > (1u << 30) ? 1 << 30 : (int)len;
    int n = BIO_write(s->in, data, chunk);
    if (n <= 0)
      return UV_ENOMEM;
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

int tls_session_handshake(struct tls_session *s) {
  int r = SSL_do_handshake(s->ssl);
  if (r == 1)
    return 1;
  int e = SSL_get_error(s->ssl, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
    return 0;
  return failed(s, "handshake");
}

int tls_session_read(struct tls_session *s, uint8_t *out, size_t cap, size_t *ret_n) {
  *ret_n = 0;
  if (cap > INT32_MAX)
    cap = INT32_MAX;
  int r = SSL_read(s->ssl, out, (int)cap);
  if (r > 0) {
    *ret_n = (size_t)r;
    return 0;
  }
  int e = SSL_get_error(s->ssl, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
    return 0;
  if (e == SSL_ERROR_ZERO_RETURN)
    return UV_EOF;
  return failed(s, "record");
}

int tls_session_write(struct tls_session *s, const uint8_t *data, size_t len) {
  while (len) {
    int chunk = len > (1u << 30) ? 1 << 30 : (int)len;
    int n = SSL_write(s->ssl, data, chunk);
    if (n <= 0)
      return failed(s, "write");
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

void tls_session_close_notify(struct tls_session *s) {
  SSL_shutdown(s->ssl);
  ERR_clear_error();
}

int tls_session_take_output(struct tls_session *s, uint8_t **ret, size_t *ret_len) {
  *ret = NULL;
  *ret_len = 0;
  size_t pending = BIO_ctrl_pending(s->out);
  if (!pending)
    return 0;
  uint8_t *mem = malloc(pending);
  if (!mem)
    return UV_ENOMEM;
  int n = BIO_read(s->out, mem, (int)pending);
  if (n <= 0) {
    free(mem);
    return UV_ENOMEM;
  }
  *ret = mem;
  *ret_len = (size_t)n;
  return 0;
}

int tls_session_peer_key(const struct tls_session *s, uint8_t ret[SIGN_KEY_LEN]) {
  X509 *cert = SSL_get0_peer_certificate(s->ssl);
  EVP_PKEY *key = cert ? X509_get0_pubkey(cert) : NULL;
  size_t len = SIGN_KEY_LEN;
  if (!key || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519 ||
      EVP_PKEY_get_raw_public_key(key, ret, &len) != 1 || len != SIGN_KEY_LEN) {
    ERR_clear_error();
    return GPUPV_ETLS;
  }
  return 0;
}

const char *tls_session_error(const struct tls_session *s) {
  return s->error[0] ? s->error : "no error";
}
