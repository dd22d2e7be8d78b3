#include "guest-agent/host-key.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/text.h"

#include <stdio.h>
#include <string.h>
#include <uv.h>

int host_key_load(struct host_key *k, const char *state_dir, const char *given_hex) {
  memset(k, 0, sizeof *k);
  snprintf(k->path, sizeof k->path, "%s/host-key", state_dir);
  if (given_hex) {
    if (text_hex_decode(given_hex, k->key, SIGN_KEY_LEN)) {
      log_error("--host-key must be 64 lower-case hex digits");
      return GPUPV_ECONFIG;
    }
    k->pinned = k->given = 1;
    return 0;
  }
  struct buf text;
  buf_init(&text);
  int err = fs_read_file(k->path, 4096, &text);
  if (!err) {
    while (text.len && (text.data[text.len - 1] == '\n' || text.data[text.len - 1] == ' '))
      text.data[--text.len] = 0;
    if (text_hex_decode((char *)text.data, k->key, SIGN_KEY_LEN)) {
      log_error("%s does not hold a host key; remove it to pin the next host's key", k->path);
      err = GPUPV_ECONFIG;
    } else {
      k->pinned = 1;
    }
  } else if (err == UV_ENOENT) {
    err = 0;
  }
  buf_done(&text);
  return err;
}

const char *host_key_source(const struct host_key *k) {
  return k->given ? "--host-key" : k->path;
}

int host_key_may_sign(const struct host_key *k, const uint8_t key[SIGN_KEY_LEN]) {
  return !k->pinned || memcmp(key, k->key, SIGN_KEY_LEN) == 0;
}

int host_key_pin(struct host_key *k, const uint8_t key[SIGN_KEY_LEN], char *why, size_t why_size) {
  if (k->pinned)
    return 0;
  char hex[2 * SIGN_KEY_LEN + 1];
  text_hex_encode(key, SIGN_KEY_LEN, hex);
  int err = fs_write_atomic(k->path, hex, strlen(hex), 0600);
  if (err) {
    snprintf(why, why_size,
             "cannot save the host key to %s (%s); not trusting a host on first use until it "
             "can be saved (or give --host-key)",
             k->path, gpupv_strerror(err));
    return err;
  }
  memcpy(k->key, key, SIGN_KEY_LEN);
  k->pinned = 1;
  log_warn("trusting host key %s from now on (first contact; saved in %s)", hex, k->path);
  return 0;
}
