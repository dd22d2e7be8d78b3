#include "common/sign.h"

#include "common/err.h"
#include "common/fs.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define SIGN_DOMAIN "gpupv-manifest-v1"

struct sign_key {
  EVP_PKEY *pkey;
};

static int wrap(EVP_PKEY *pkey, struct sign_key **ret) {
  struct sign_key *k = malloc(sizeof *k);
  if (!k) {
    EVP_PKEY_free(pkey);
    return UV_ENOMEM;
  }
  k->pkey = pkey;
  *ret = k;
  return 0;
}

struct evp_pkey_st *sign_key_pkey(const struct sign_key *k) {
  return k->pkey;
}

int sign_key_generate(struct sign_key **ret) {
  EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
  return pkey ? wrap(pkey, ret) : UV_ENOMEM;
}

#define KEY_FILE_MAX 16384

static int load_key(const struct buf *pem, struct sign_key **ret) {
  BIO *bio = BIO_new_mem_buf(pem->data, (int)pem->len);
  EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
  BIO_free(bio);
  if (!pkey || EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(pkey);
    return GPUPV_ESIGNATURE;
  }
  return wrap(pkey, ret);
}

/* Writes k as PEM to a new file only the owner can read. */
static int save_key(const struct sign_key *k, const char *path) {
  BIO *bio = BIO_new(BIO_s_mem());
  char *pem;
  long len;
  int err = UV_ENOMEM;
  if (bio && PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL) == 1 &&
      (len = BIO_get_mem_data(bio, &pem)) > 0) {
    int fd;
    if (!(err = fs_open_new(path, 0600, 1, &fd))) {
      err = fs_write_all(fd, pem, (size_t)len);
      if (!err)
        err = fs_fsync(fd);
      int close_err = fs_close(fd);
      err = err ? err : close_err;
      if (err)
        fs_unlink(path);
    }
  }
  BIO_free(bio);
  return err;
}

int sign_key_load_or_create(const char *path, struct sign_key **ret) {
  struct buf pem;
  buf_init(&pem);
  int err = fs_read_file(path, KEY_FILE_MAX, &pem);
  if (!err)
    err = load_key(&pem, ret);
  buf_done(&pem);
  if (err != UV_ENOENT)
    return err;
  struct sign_key *k;
  if ((err = sign_key_generate(&k)))
    return err;
  if ((err = save_key(k, path))) {
    sign_key_free(k);
    return err;
  }
  *ret = k;
  return 0;
}

void sign_key_free(struct sign_key *k) {
  if (!k)
    return;
  EVP_PKEY_free(k->pkey);
  free(k);
}

void sign_key_public(const struct sign_key *k, uint8_t ret[SIGN_KEY_LEN]) {
  size_t n = SIGN_KEY_LEN;
  EVP_PKEY_get_raw_public_key(k->pkey, ret, &n);
}

static void signed_bytes(const uint8_t id[HASH_LEN],
                         uint8_t out[sizeof SIGN_DOMAIN - 1 + HASH_LEN]) {
  memcpy(out, SIGN_DOMAIN, sizeof SIGN_DOMAIN - 1);
  memcpy(out + sizeof SIGN_DOMAIN - 1, id, HASH_LEN);
}

int sign_generation(const struct sign_key *k, const uint8_t id[HASH_LEN],
                    uint8_t ret_sig[SIGN_SIG_LEN]) {
  uint8_t msg[sizeof SIGN_DOMAIN - 1 + HASH_LEN];
  signed_bytes(id, msg);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  size_t n = SIGN_SIG_LEN;
  int ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
           EVP_DigestSign(ctx, ret_sig, &n, msg, sizeof msg) == 1 && n == SIGN_SIG_LEN;
  EVP_MD_CTX_free(ctx);
  return ok ? 0 : GPUPV_ESIGNATURE;
}

int sign_verify_generation(const uint8_t key[SIGN_KEY_LEN], const uint8_t id[HASH_LEN],
                           const uint8_t sig[SIGN_SIG_LEN]) {
  uint8_t msg[sizeof SIGN_DOMAIN - 1 + HASH_LEN];
  signed_bytes(id, msg);
  EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, key, SIGN_KEY_LEN);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  int ok = pkey && ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) == 1 &&
           EVP_DigestVerify(ctx, sig, SIGN_SIG_LEN, msg, sizeof msg) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pkey);
  return ok ? 0 : GPUPV_ESIGNATURE;
}
