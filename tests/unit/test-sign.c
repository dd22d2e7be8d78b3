/* Ed25519 manifest signatures and the host key file. */
#include "common/err.h"
#include "common/sign.h"
#include "common/text.h"
#include "tests/support/test.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

TEST(unit_sign_generation) {
  struct sign_key *k, *again, *other;
  const char *path = test_path("host-key.pem");
  CHECK(sign_key_load_or_create(path, &k) == 0);
#ifndef _WIN32
  /* private to its owner; on Windows the state folder's ACL decides (docs/windows.md) */
  struct stat st;
  CHECK(stat(path, &st) == 0 && (st.st_mode & 077) == 0);
#endif
  CHECK(sign_key_load_or_create(path, &again) == 0);
  uint8_t pub[SIGN_KEY_LEN], pub2[SIGN_KEY_LEN], sig[SIGN_SIG_LEN];
  sign_key_public(k, pub);
  sign_key_public(again, pub2);
  CHECK(memcmp(pub, pub2, SIGN_KEY_LEN) == 0); /* the key survives a restart */
  uint8_t id[HASH_LEN];
  hash_bytes("manifest", 8, id);
  CHECK(sign_generation(k, id, sig) == 0);
  CHECK(sign_verify_generation(pub, id, sig) == 0);
  id[0] ^= 1;
  CHECK_EQ_INT(sign_verify_generation(pub, id, sig), GPUPV_ESIGNATURE);
  id[0] ^= 1;
  sig[10] ^= 0x40;
  CHECK_EQ_INT(sign_verify_generation(pub, id, sig), GPUPV_ESIGNATURE);
  sig[10] ^= 0x40;
  CHECK(sign_key_generate(&other) == 0);
  sign_key_public(other, pub2);
  CHECK_EQ_INT(sign_verify_generation(pub2, id, sig), GPUPV_ESIGNATURE);
  /* a file that is not a key is refused, not replaced */
  const char *junk = test_path("junk.pem");
  FILE *f = fopen(junk, "w");
  fputs("not a key\n", f);
  fclose(f);
  struct sign_key *bad = NULL;
  CHECK_EQ_INT(sign_key_load_or_create(junk, &bad), GPUPV_ESIGNATURE);
  char hex[2 * SIGN_KEY_LEN + 1];
  text_hex_encode(pub, SIGN_KEY_LEN, hex);
  CHECK(text_hex_decode(hex, pub2, SIGN_KEY_LEN) == 0 && memcmp(pub, pub2, SIGN_KEY_LEN) == 0);
  CHECK(text_hex_decode("zz", pub2, 1) == -1);
  sign_key_free(k);
  sign_key_free(again);
  sign_key_free(other);
}
