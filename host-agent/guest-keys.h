/*
 * The guest key allowlist (--allow-guest-keys FILE): which tls:// guests may connect. One key
 * per line, 64 hex digits (what `gpupv-guestd --show-key` prints), optionally followed by
 * blanks and a note; blank lines and lines starting with '#' are skipped. The file is read at
 * each TLS hello, so an edit takes effect with the next connection; a file that cannot be read
 * or holds a line that is not a key refuses every guest (fail closed).
 */
#ifndef GPUPV_HOST_GUEST_KEYS_H
#define GPUPV_HOST_GUEST_KEYS_H

#include "common/sign.h"

#include <stddef.h>
#include <stdint.h>

/* 1 when the allowlist at path lists key, 0 when it does not; why tells a refusal. */
int guest_keys_allowed(const char *path, const uint8_t key[SIGN_KEY_LEN], char *why,
                       size_t why_size);

/* The same over the file's text, for tests. */
int guest_keys_allowed_text(const char *text, size_t len, const uint8_t key[SIGN_KEY_LEN],
                            char *why, size_t why_size);

#endif
