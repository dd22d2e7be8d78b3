/* The guest key allowlist's file format (host-agent/guest-keys.c). */
#include "common/text.h"
#include "host-agent/guest-keys.h"
#include "tests/support/test.h"

#include <stdio.h>
#include <string.h>

static const char key_a[] = "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29";
static const char key_b[] = "1c08d6b67ec0e2d7b4b1d3e2f1c0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2";

static int allowed(const char *text, const char *hex, char *why) {
  uint8_t key[SIGN_KEY_LEN];
  CHECK(text_hex_decode(hex, key, SIGN_KEY_LEN) == 0);
  return guest_keys_allowed_text(text, strlen(text), key, why, 300);
}

TEST(unit_guest_keys_allowlist_format) {
  char why[300], text[600];
  snprintf(text, sizeof text, "# our guests\n\n  %s build-vm-1\r\n%s\n", key_a, key_b);
  CHECK(allowed(text, key_a, why) == 1);
  CHECK(allowed(text, key_b, why) == 1);
  /* upper case is the same key */
  char upper[65];
  for (int i = 0; i < 64; i++)
    upper[i] = (char)(key_a[i] >= 'a' && key_a[i] <= 'f' ? key_a[i] - 32 : key_a[i]);
  upper[64] = 0;
  snprintf(text, sizeof text, "%s\n", upper);
  CHECK(allowed(text, key_a, why) == 1);
  /* absent: refused, naming the key */
  snprintf(text, sizeof text, "%s\n", key_b);
  CHECK(allowed(text, key_a, why) == 0 && strstr(why, key_a) && strstr(why, "not on the"));
  CHECK(allowed("", key_a, why) == 0);
  /* a line that is not a key refuses everyone, even a listed key (fail closed) */
  for (int i = 0; i < 4; i++) {
    if (i == 0)
      snprintf(text, sizeof text, "%s\nnot-a-key\n", key_a);
    else if (i == 1)
      snprintf(text, sizeof text, "%s\n%.63s\n", key_a, key_b);
    else if (i == 2)
      snprintf(text, sizeof text, "%s\n%sx\n", key_a, key_b);
    else
      snprintf(text, sizeof text, "%s\n%.62szz\n", key_a, key_b);
    CHECK_MSG(allowed(text, key_a, why) == 0 && strstr(why, "line 2"), "case %d: %s", i, why);
  }
}
