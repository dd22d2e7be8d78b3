#include "proto/bundle.h"

#include "common/err.h"
#include "common/peer-text.h"
#include "common/text.h"
#include "proto/msg.h"

#include <stdio.h>
#include <string.h>

cJSON *bundle_header_json(const struct bundle_header *h) {
  char gen[HASH_HEX_LEN + 1], key[2 * SIGN_KEY_LEN + 1], sig[2 * SIGN_SIG_LEN + 1];
  hash_to_hex(h->generation, gen);
  text_hex_encode(h->key, SIGN_KEY_LEN, key);
  text_hex_encode(h->signature, SIGN_SIG_LEN, sig);
  cJSON *o = cJSON_CreateObject();
  if (!o || !cJSON_AddNumberToObject(o, "format", BUNDLE_FORMAT) ||
      !cJSON_AddStringToObject(o, "generation", gen) || !cJSON_AddStringToObject(o, "key", key) ||
      !cJSON_AddStringToObject(o, "signature", sig) ||
      !cJSON_AddStringToObject(o, "host", h->host) ||
      !cJSON_AddStringToObject(o, "created", h->created) ||
      !cJSON_AddNumberToObject(o, "manifest_size", (double)h->manifest_size) ||
      !cJSON_AddNumberToObject(o, "blobs", (double)h->blobs) ||
      !cJSON_AddNumberToObject(o, "bytes", (double)h->bytes) ||
      !cJSON_AddItemToObject(o, "agent",
                             h->agent[0] ? cJSON_CreateString(h->agent) : cJSON_CreateNull())) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

static int hex_member(const cJSON *o, const char *name, uint8_t *ret, size_t n) {
  const char *text;
  return msg_get_str(o, name, 2 * n, &text) || text_hex_decode(text, ret, n) ? -1 : 0;
}

int bundle_header_parse(const cJSON *o, struct bundle_header *ret, const char **ret_reason) {
  struct bundle_header h;
  memset(&h, 0, sizeof h);
  uint64_t format;
  const char *host = NULL, *created = NULL, *agent = NULL, *reason = NULL;
  if (!cJSON_IsObject(o))
    reason = "not a JSON object";
  else if (msg_get_u64(o, "format", 1000, &format) || format != BUNDLE_FORMAT)
    reason = "format (this agent reads format 1)";
  else if (hex_member(o, "generation", h.generation, HASH_LEN))
    reason = "generation";
  else if (hex_member(o, "key", h.key, SIGN_KEY_LEN))
    reason = "key";
  else if (hex_member(o, "signature", h.signature, SIGN_SIG_LEN))
    reason = "signature";
  else if (msg_get_str(o, "host", 255, &host))
    reason = "host";
  else if (msg_get_str_opt(o, "created", 31, &created))
    reason = "created";
  else if (msg_get_u64(o, "manifest_size", BUNDLE_MANIFEST_MAX, &h.manifest_size) ||
           !h.manifest_size)
    reason = "manifest_size";
  else if (msg_get_u64(o, "blobs", UINT32_MAX, &h.blobs))
    reason = "blobs";
  else if (msg_get_u64(o, "bytes", MSG_U64_MAX, &h.bytes))
    reason = "bytes";
  else if (msg_get_str_opt(o, "agent", sizeof h.agent - 1, &agent))
    reason = "agent";
  if (reason) {
    *ret_reason = reason;
    return GPUPV_EFIELD;
  }
  peer_text_clean(host, strlen(host), h.host, sizeof h.host);
  if (created)
    peer_text_clean(created, strlen(created), h.created, sizeof h.created);
  if (agent)
    peer_text_clean(agent, strlen(agent), h.agent, sizeof h.agent);
  *ret = h;
  return 0;
}

int bundle_blob_name(const char *name, uint8_t ret[HASH_LEN]) {
  size_t n = strlen(BUNDLE_BLOB_PREFIX);
  if (strncmp(name, BUNDLE_BLOB_PREFIX, n) != 0 || hash_from_hex(name + n, ret))
    return GPUPV_EPATH;
  return 0;
}
