/* Peer text made printable: controls, escapes, invalid UTF-8, lengths, JSON trees. */
#include "common/peer-text.h"
#include "tests/support/test.h"

#include <stdlib.h>

static const char *clean(const char *in, size_t size) {
  static char out[256];
  return peer_text_clean(in, strlen(in), out, size);
}

TEST(unit_peer_text_clean) {
  CHECK_EQ_STR(clean("plain text", 256), "plain text");
  CHECK_EQ_STR(clean("a\tb\r\nc", 256), "a b  c");
  CHECK_EQ_STR(clean("\033[2J", 256), "\xef\xbf\xbd[2J");
  CHECK_EQ_STR(clean("\xc2\x9b", 256), "\xef\xbf\xbd");             /* C1 CSI */
  CHECK_EQ_STR(clean("\xe2\x80\xae", 256), "\xef\xbf\xbd");         /* right-to-left override */
  CHECK_EQ_STR(clean("\xff\xfe", 256), "\xef\xbf\xbd\xef\xbf\xbd"); /* invalid UTF-8 */
  CHECK_EQ_STR(clean("\xc0\xaf", 256), "\xef\xbf\xbd\xef\xbf\xbd"); /* overlong */
  CHECK_EQ_STR(clean("\xed\xa0\x80", 256), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* surrogate */
  CHECK_EQ_STR(clean("caf\xc3\xa9 \xf0\x9f\x98\x80", 256), "caf\xc3\xa9 \xf0\x9f\x98\x80");
  /* too long: cut at a character boundary, with an ellipsis */
  CHECK_EQ_STR(clean("abcdefghij", 11), "abcdefghij");
  CHECK_EQ_STR(clean("abcdefghijk", 11), "abcdefg\xe2\x80\xa6");
  CHECK_EQ_STR(clean("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 8), "\xc3\xa9\xc3\xa9\xe2\x80\xa6");
  CHECK(peer_text_is_clean("caf\xc3\xa9"));
  CHECK(!peer_text_is_clean("a\nb"));
  CHECK(!peer_text_is_clean("\xff"));
}

TEST(unit_peer_json_clean_bounds_the_tree) {
  /* deeper than the limit: the depth is cut, the rest kept */
  char deep[4096] = "";
  for (int i = 0; i < 20; i++)
    strcat(deep, "{\"a\":");
  strcat(deep, "1");
  for (int i = 0; i < 20; i++)
    strcat(deep, "}");
  cJSON *in = cJSON_Parse(deep);
  CHECK(in);
  cJSON *out = peer_json_clean(in);
  int depth = 0;
  for (const cJSON *c = out; c && cJSON_IsObject(c); c = c->child)
    depth++;
  CHECK(depth <= PEER_JSON_MAX_DEPTH + 1);
  cJSON_Delete(in);
  cJSON_Delete(out);
  /* more items than the budget */
  in = cJSON_CreateArray();
  for (int i = 0; i < 3 * PEER_JSON_MAX_ITEMS; i++)
    cJSON_AddItemToArray(in, cJSON_CreateNumber(i));
  out = peer_json_clean(in);
  CHECK(cJSON_GetArraySize(out) < PEER_JSON_MAX_ITEMS);
  cJSON_Delete(in);
  cJSON_Delete(out);
  /* long strings are capped */
  char *big = malloc(100000);
  memset(big, 'x', 99999);
  big[99999] = 0;
  in = cJSON_CreateString(big);
  out = peer_json_clean(in);
  CHECK(strlen(out->valuestring) < PEER_JSON_MAX_STRING + 4);
  free(big);
  cJSON_Delete(in);
  cJSON_Delete(out);
}
