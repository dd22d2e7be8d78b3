/* SHA-256 over OpenSSL's EVP interface, and hex conversion. */
#ifndef GPUPV_COMMON_HASH_H
#define GPUPV_COMMON_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_LEN 32
#define HASH_HEX_LEN 64

struct hash_ctx {
  void *md; /* EVP_MD_CTX, kept opaque so OpenSSL's headers stay out of ours */
};

int hash_init(struct hash_ctx *ctx);
void hash_update(struct hash_ctx *ctx, const void *data, size_t len);
/* Writes the digest and releases the context. */
void hash_final(struct hash_ctx *ctx, uint8_t ret_digest[HASH_LEN]);
/* Releases a context without a digest; safe after hash_final. */
void hash_done(struct hash_ctx *ctx);

void hash_bytes(const void *data, size_t len, uint8_t ret_digest[HASH_LEN]);
/* Hashes everything readable from fd; adds the byte count to *bytes_read when non-NULL. */
int hash_fd(int fd, uint8_t ret_digest[HASH_LEN], uint64_t *bytes_read);

void hash_to_hex(const uint8_t digest[HASH_LEN], char ret_hex[HASH_HEX_LEN + 1]);
/* Accepts exactly 64 lower-case hex digits; returns 0 or GPUPV_EFIELD. */
int hash_from_hex(const char *hex, uint8_t ret_digest[HASH_LEN]);

#endif
