#include "proto/msg.h"

#include "common/err.h"
#include "proto/frame.h"

#include <string.h>
#include <uv.h>

static const char *const msg_names[] = {
#define MSG__NAME(name, str) str,
    MSG_TYPES(MSG__NAME)
#undef MSG__NAME
};

const char *msg_type_name(enum msg_type type) {
  return (unsigned)type < MSG__COUNT ? msg_names[type] : "?";
}

int msg_parse(const uint8_t *payload, size_t len, cJSON **ret_root, enum msg_type *ret_type) {
  if (len == 0 || len > FRAME_CONTROL_MAX)
    return GPUPV_EJSON;
  cJSON *root = cJSON_ParseWithLength((const char *)payload, len);
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return GPUPV_EJSON;
  }
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
  if (!cJSON_IsString(type)) {
    cJSON_Delete(root);
    return GPUPV_EJSON;
  }
  for (int i = 0; i < MSG__COUNT; i++) {
    if (strcmp(type->valuestring, msg_names[i]) == 0) {
      *ret_root = root;
      *ret_type = (enum msg_type)i;
      return 0;
    }
  }
  cJSON_Delete(root);
  return GPUPV_EMSG_TYPE;
}

cJSON *msg_new(enum msg_type type) {
  cJSON *o = cJSON_CreateObject();
  if (o && !cJSON_AddStringToObject(o, "type", msg_type_name(type))) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

cJSON *msg_new_blob(enum msg_type type, const uint8_t sha256[HASH_LEN], uint64_t size) {
  cJSON *m = msg_new(type);
  if (m &&
      (msg_add_hash(m, "sha256", sha256) || !cJSON_AddNumberToObject(m, "size", (double)size))) {
    cJSON_Delete(m);
    return NULL;
  }
  return m;
}

cJSON *msg_new_hello(const char *name, const char *generation_hex) {
  cJSON *m = msg_new(MSG_HELLO);
  if (m && (!cJSON_AddNumberToObject(m, "proto", PROTO_VERSION) ||
            !cJSON_AddStringToObject(m, "name", name) ||
            !(generation_hex ? cJSON_AddStringToObject(m, "generation", generation_hex)
                             : cJSON_AddNullToObject(m, "generation")))) {
    cJSON_Delete(m);
    return NULL;
  }
  return m;
}

int msg_get_cap(const cJSON *obj, const char *cap, int *ret) {
  *ret = 0;
  const cJSON *caps = cJSON_GetObjectItemCaseSensitive(obj, "caps");
  if (!caps)
    return 0;
  if (!cJSON_IsArray(caps) || cJSON_GetArraySize(caps) > PROTO_CAPS_MAX)
    return GPUPV_EFIELD;
  const cJSON *c;
  cJSON_ArrayForEach(c, caps) {
    if (!cJSON_IsString(c) || strlen(c->valuestring) > 32) /* unknown ones are ignored */
      return GPUPV_EFIELD;
    *ret |= strcmp(c->valuestring, cap) == 0;
  }
  return 0;
}

int msg_encode(struct buf *out, const cJSON *msg) {
  char *text = cJSON_PrintUnformatted(msg);
  if (!text)
    return UV_ENOMEM;
  size_t len = strlen(text);
  int err = GPUPV_ETOO_BIG;
  if (len <= FRAME_CONTROL_MAX) {
    uint8_t header[FRAME_HEADER_LEN];
    frame_header_encode(header, FRAME_CONTROL, 0, (uint32_t)len);
    err = buf_append(out, header, sizeof header);
    if (!err)
      err = buf_append(out, text, len);
  }
  cJSON_free(text);
  return err;
}

int msg_get_str_opt(const cJSON *obj, const char *key, size_t max_len, const char **ret) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!v || cJSON_IsNull(v)) {
    *ret = NULL;
    return 0;
  }
  if (!cJSON_IsString(v) || strlen(v->valuestring) > max_len)
    return GPUPV_EFIELD;
  *ret = v->valuestring;
  return 0;
}

int msg_get_str(const cJSON *obj, const char *key, size_t max_len, const char **ret) {
  const char *s;
  int err = msg_get_str_opt(obj, key, max_len, &s);
  if (err || !s)
    return GPUPV_EFIELD;
  *ret = s;
  return 0;
}

int msg_get_u64(const cJSON *obj, const char *key, uint64_t max, uint64_t *ret) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!cJSON_IsNumber(v))
    return GPUPV_EFIELD;
  double d = v->valuedouble;
  if (!(d >= 0) || d > (double)max || d > (double)MSG_U64_MAX || d != (double)(uint64_t)d)
    return GPUPV_EFIELD;
  *ret = (uint64_t)d;
  return 0;
}

int msg_get_bool(const cJSON *obj, const char *key, int *ret) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!cJSON_IsBool(v))
    return GPUPV_EFIELD;
  *ret = cJSON_IsTrue(v);
  return 0;
}

int msg_get_hash_opt(const cJSON *obj, const char *key, uint8_t ret[HASH_LEN], int *ret_present) {
  const char *s;
  int err = msg_get_str_opt(obj, key, HASH_HEX_LEN, &s);
  if (err)
    return err;
  if (!s) {
    *ret_present = 0;
    return 0;
  }
  if (hash_from_hex(s, ret))
    return GPUPV_EFIELD;
  *ret_present = 1;
  return 0;
}

int msg_get_hash(const cJSON *obj, const char *key, uint8_t ret[HASH_LEN]) {
  int present;
  int err = msg_get_hash_opt(obj, key, ret, &present);
  return err ? err : present ? 0 : GPUPV_EFIELD;
}

int msg_add_hash(cJSON *obj, const char *key, const uint8_t hash[HASH_LEN]) {
  char hex[HASH_HEX_LEN + 1];
  hash_to_hex(hash, hex);
  return cJSON_AddStringToObject(obj, key, hex) ? 0 : UV_ENOMEM;
}
