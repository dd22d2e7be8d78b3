/*
 * Ed25519 manifest signatures (OpenSSL). The host signs "gpupv-manifest-v1" followed by the
 * 32-byte generation id; guests pin the host's public key.
 */
#ifndef GPUPV_COMMON_SIGN_H
#define GPUPV_COMMON_SIGN_H

#include "common/hash.h"

#include <stdint.h>

#define SIGN_KEY_LEN 32
#define SIGN_SIG_LEN 64

struct sign_key;

/* Loads the private key at path, creating it (mode 0600) when missing. *ret is new. */
int sign_key_load_or_create(const char *path, struct sign_key **ret);
/* A new key in memory (tests). */
int sign_key_generate(struct sign_key **ret);
void sign_key_free(struct sign_key *k);
void sign_key_public(const struct sign_key *k, uint8_t ret[SIGN_KEY_LEN]);
/* The key as OpenSSL holds it (an EVP_PKEY), borrowed: for a TLS certificate (net/tls.c). */
struct evp_pkey_st *sign_key_pkey(const struct sign_key *k);
int sign_generation(const struct sign_key *k, const uint8_t id[HASH_LEN],
                    uint8_t ret_sig[SIGN_SIG_LEN]);
/* 0 when sig is the key's signature of id, else GPUPV_ESIGNATURE. */
int sign_verify_generation(const uint8_t key[SIGN_KEY_LEN], const uint8_t id[HASH_LEN],
                           const uint8_t sig[SIGN_SIG_LEN]);

#endif
