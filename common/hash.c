#include "common/hash.h"

#include "common/err.h"
#include "common/fs.h"
#include "common/text.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

int hash_init(struct hash_ctx *ctx) {
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  if (!md)
    return UV_ENOMEM;
  if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
    EVP_MD_CTX_free(md);
    return UV_EINVAL;
  }
  ctx->md = md;
  return 0;
}

void hash_update(struct hash_ctx *ctx, const void *data, size_t len) {
  EVP_DigestUpdate(ctx->md, data, len);
}

void hash_final(struct hash_ctx *ctx, uint8_t ret_digest[HASH_LEN]) {
  unsigned int n = HASH_LEN;
  EVP_DigestFinal_ex(ctx->md, ret_digest, &n);
  hash_done(ctx);
}

void hash_done(struct hash_ctx *ctx) {
  EVP_MD_CTX_free(ctx->md);
  ctx->md = NULL;
}

void hash_bytes(const void *data, size_t len, uint8_t ret_digest[HASH_LEN]) {
  unsigned int n = HASH_LEN;
  EVP_Digest(data, len, ret_digest, &n, EVP_sha256(), NULL);
}

int hash_fd(int fd, uint8_t ret_digest[HASH_LEN], uint64_t *bytes_read) {
  enum { CHUNK = 1 << 20 };
  struct hash_ctx ctx;
  int err = hash_init(&ctx);
  if (err)
    return err;
  uint8_t *chunk = malloc(CHUNK);
  if (!chunk) {
    hash_done(&ctx);
    return UV_ENOMEM;
  }
  for (;;) {
    int64_t n = fs_read(fd, chunk, CHUNK);
    if (n < 0) {
      err = (int)n;
      goto out;
    }
    if (n == 0)
      break;
    hash_update(&ctx, chunk, (size_t)n);
    if (bytes_read)
      *bytes_read += (uint64_t)n;
  }
  hash_final(&ctx, ret_digest);
out:
  hash_done(&ctx);
  free(chunk);
  return err;
}

void hash_to_hex(const uint8_t digest[HASH_LEN], char ret_hex[HASH_HEX_LEN + 1]) {
  text_hex_encode(digest, HASH_LEN, ret_hex);
}

int hash_from_hex(const char *hex, uint8_t ret_digest[HASH_LEN]) {
  return text_hex_decode(hex, ret_digest, HASH_LEN) ? GPUPV_EFIELD : 0;
}
