/* libFuzzer target: control message parsing and every field reader. */
#include "proto/msg.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cJSON *m;
  enum msg_type type;
  if (msg_parse(data, size, &m, &type))
    return 0;
  const char *s;
  uint64_t u;
  int b, present;
  uint8_t h[HASH_LEN];
  msg_get_str(m, "name", 63, &s);
  msg_get_str_opt(m, "error", 200, &s);
  msg_get_u64(m, "size", MSG_U64_MAX, &u);
  msg_get_bool(m, "ok", &b);
  msg_get_hash(m, "sha256", h);
  msg_get_hash_opt(m, "generation", h, &present);
  cJSON_Delete(m);
  return 0;
}
