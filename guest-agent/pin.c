#include "guest-agent/pin.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/fs.h"

#include <stdio.h>
#include <string.h>
#include <uv.h>

static void pin_path(const char *state_dir, char *out, size_t size) {
  snprintf(out, size, "%s/pin", state_dir);
}

int pin_read(const char *state_dir, uint8_t ret[HASH_LEN]) {
  char path[1100];
  pin_path(state_dir, path, sizeof path);
  struct buf text;
  buf_init(&text);
  int ok = fs_read_file(path, 256, &text) == 0 && text.len >= HASH_HEX_LEN;
  if (ok) {
    char hex[HASH_HEX_LEN + 1];
    memcpy(hex, text.data, HASH_HEX_LEN);
    hex[HASH_HEX_LEN] = 0;
    ok = hash_from_hex(hex, ret) == 0;
  }
  buf_done(&text);
  return ok;
}

int pin_write(const char *state_dir, const uint8_t id[HASH_LEN]) {
  char path[1100], hex[HASH_HEX_LEN + 2];
  pin_path(state_dir, path, sizeof path);
  hash_to_hex(id, hex);
  strcat(hex, "\n");
  return fs_write_atomic(path, hex, strlen(hex), 0600);
}

int pin_clear(const char *state_dir) {
  char path[1100];
  pin_path(state_dir, path, sizeof path);
  int err = fs_unlink(path);
  return err == UV_ENOENT ? 0 : err;
}
