#include "host-agent/guest-keys.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/text.h"

#include <stdio.h>
#include <string.h>

#define GUEST_KEYS_FILE_MAX (4u << 20)

static int is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r';
}

int guest_keys_allowed_text(const char *text, size_t len, const uint8_t key[SIGN_KEY_LEN],
                            char *why, size_t why_size) {
  char want[2 * SIGN_KEY_LEN + 1];
  text_hex_encode(key, SIGN_KEY_LEN, want);
  int found = 0;
  size_t line = 0;
  for (size_t off = 0; off < len;) {
    const char *p = text + off;
    const char *nl = memchr(p, '\n', len - off);
    size_t n = nl ? (size_t)(nl - p) : len - off;
    off += n + 1;
    line++;
    while (n && is_blank(*p))
      p++, n--;
    if (!n || *p == '#')
      continue;
    uint8_t parsed[SIGN_KEY_LEN];
    char hex[2 * SIGN_KEY_LEN + 1];
    if (n < 2 * SIGN_KEY_LEN || (n > 2 * SIGN_KEY_LEN && !is_blank(p[2 * SIGN_KEY_LEN]))) {
      snprintf(why, why_size, "line %zu is not a key (64 hex digits, then an optional note)", line);
      return 0;
    }
    memcpy(hex, p, 2 * SIGN_KEY_LEN);
    hex[2 * SIGN_KEY_LEN] = 0;
    for (char *h = hex; *h; h++)
      if (*h >= 'A' && *h <= 'F')
        *h = (char)(*h - 'A' + 'a');
    if (text_hex_decode(hex, parsed, SIGN_KEY_LEN)) {
      snprintf(why, why_size, "line %zu is not a key (64 hex digits, then an optional note)", line);
      return 0;
    }
    found |= memcmp(parsed, key, SIGN_KEY_LEN) == 0;
  }
  if (!found)
    snprintf(why, why_size, "guest key %s is not on the allowlist", want);
  return found;
}

int guest_keys_allowed(const char *path, const uint8_t key[SIGN_KEY_LEN], char *why,
                       size_t why_size) {
  struct buf text;
  buf_init(&text);
  int err = fs_read_file(path, GUEST_KEYS_FILE_MAX, &text);
  int ok = 0;
  if (err) {
    snprintf(why, why_size, "the guest key allowlist %s cannot be read (%s)", path,
             gpupv_strerror(err));
  } else {
    char reason[200];
    ok = guest_keys_allowed_text((const char *)text.data, text.len, key, reason, sizeof reason);
    if (!ok)
      snprintf(why, why_size, "%s (%s)", reason, path);
  }
  buf_done(&text);
  return ok;
}
