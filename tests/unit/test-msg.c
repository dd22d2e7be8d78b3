/* Control messages: parsing and field checks. */
#include "common/err.h"
#include "proto/msg.h"
#include "tests/support/test.h"

#include <string.h>

static int parse(const char *text, cJSON **ret, enum msg_type *type) {
  return msg_parse((const uint8_t *)text, strlen(text), ret, type);
}

TEST(unit_msg_parse) {
  cJSON *m;
  enum msg_type t;
  CHECK(parse("{\"type\":\"hello\",\"proto\":1}", &m, &t) == 0 && t == MSG_HELLO);
  cJSON_Delete(m);
  CHECK_EQ_INT(parse("", &m, &t), GPUPV_EJSON);
  CHECK_EQ_INT(parse("{\"type\":\"hello\"", &m, &t), GPUPV_EJSON);
  CHECK_EQ_INT(parse("[1,2]", &m, &t), GPUPV_EJSON);
  CHECK_EQ_INT(parse("{\"proto\":1}", &m, &t), GPUPV_EJSON);
  CHECK_EQ_INT(parse("{\"type\":7}", &m, &t), GPUPV_EJSON);
  CHECK_EQ_INT(parse("{\"type\":\"launch_missiles\"}", &m, &t), GPUPV_EMSG_TYPE);
  /* the length is honoured: no reading past it */
  CHECK_EQ_INT(msg_parse((const uint8_t *)"{\"type\":\"hello\"}junk", 5, &m, &t), GPUPV_EJSON);
}

TEST(unit_msg_fields) {
  cJSON *m;
  enum msg_type t;
  CHECK(parse("{\"type\":\"blob\",\"size\":12,\"neg\":-1,\"frac\":1.5,\"huge\":1e300,"
              "\"s\":\"abc\",\"b\":true,\"null\":null,"
              "\"h\":\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\","
              "\"H\":\"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\"}",
              &m, &t) == 0);
  uint64_t u;
  CHECK(msg_get_u64(m, "size", 100, &u) == 0 && u == 12);
  CHECK_EQ_INT(msg_get_u64(m, "size", 11, &u), GPUPV_EFIELD);
  CHECK_EQ_INT(msg_get_u64(m, "neg", 100, &u), GPUPV_EFIELD);
  CHECK_EQ_INT(msg_get_u64(m, "frac", 100, &u), GPUPV_EFIELD);
  CHECK_EQ_INT(msg_get_u64(m, "huge", UINT64_MAX, &u), GPUPV_EFIELD);
  CHECK_EQ_INT(msg_get_u64(m, "s", 100, &u), GPUPV_EFIELD);
  CHECK_EQ_INT(msg_get_u64(m, "missing", 100, &u), GPUPV_EFIELD);
  const char *s;
  CHECK(msg_get_str(m, "s", 3, &s) == 0 && strcmp(s, "abc") == 0);
  CHECK_EQ_INT(msg_get_str(m, "s", 2, &s), GPUPV_EFIELD);
  CHECK_EQ_INT(msg_get_str(m, "null", 2, &s), GPUPV_EFIELD);
  CHECK(msg_get_str_opt(m, "null", 2, &s) == 0 && s == NULL);
  int b;
  CHECK(msg_get_bool(m, "b", &b) == 0 && b == 1);
  CHECK_EQ_INT(msg_get_bool(m, "s", &b), GPUPV_EFIELD);
  uint8_t h[HASH_LEN];
  int present;
  CHECK(msg_get_hash(m, "h", h) == 0 && h[0] == 0xe3 && h[31] == 0x55);
  CHECK_EQ_INT(msg_get_hash(m, "H", h), GPUPV_EFIELD); /* one spelling only */
  CHECK_EQ_INT(msg_get_hash(m, "s", h), GPUPV_EFIELD);
  CHECK(msg_get_hash_opt(m, "null", h, &present) == 0 && !present);
  cJSON_Delete(m);
}

TEST(unit_msg_encode_limit) {
  cJSON *m = msg_new(MSG_REPORT);
  static char big[70000];
  memset(big, 'x', sizeof big - 1);
  cJSON_AddStringToObject(m, "pad", big);
  struct buf out;
  buf_init(&out);
  CHECK_EQ_INT(msg_encode(&out, m), GPUPV_ETOO_BIG);
  CHECK_EQ_INT(out.len, 0);
  cJSON_Delete(m);
  m = msg_new(MSG_CREDIT);
  CHECK(msg_encode(&out, m) == 0 && out.len > 12);
  CHECK(memcmp(out.data, "GPPV", 4) == 0);
  buf_done(&out);
  cJSON_Delete(m);
}
