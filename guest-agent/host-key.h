/*
 * The host key a guest trusts for manifests, bundles and tls:// handshakes: the key given with
 * --host-key, else STATE/host-key, pinned at first contact (trust on first use, and only once
 * the pin is on disk: a pin that is not saved would trust another host after a restart).
 */
#ifndef GPUPV_GUEST_HOST_KEY_H
#define GPUPV_GUEST_HOST_KEY_H

#include "common/sign.h"

#include <stddef.h>
#include <stdint.h>

struct host_key {
  uint8_t key[SIGN_KEY_LEN];
  int pinned;
  int given;       /* by --host-key */
  char path[1100]; /* STATE/host-key */
};

/* Loads the trusted key: given_hex (may be NULL), else the pin in state_dir, else none yet.
 * 0, or GPUPV_ECONFIG (logged) for a bad key. */
int host_key_load(struct host_key *k, const char *state_dir, const char *given_hex);
/* Where the trusted key comes from, for messages: "--host-key" or the pin's path. */
const char *host_key_source(const struct host_key *k);
/* 1 when key is the trusted one, or nothing is trusted yet. */
int host_key_may_sign(const struct host_key *k, const uint8_t key[SIGN_KEY_LEN]);
/* Trusts key from now on (first contact): saves the pin. 0, or the save's error with why. */
int host_key_pin(struct host_key *k, const uint8_t key[SIGN_KEY_LEN], char *why, size_t why_size);

#endif
