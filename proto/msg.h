/*
 * Control messages: JSON objects with a "type" member, carried in FRAME_CONTROL frames.
 * Parsing and field checks only; no I/O. See proto/PROTOCOL.md for each message.
 */
#ifndef GPUPV_PROTO_MSG_H
#define GPUPV_PROTO_MSG_H

#include "common/buf.h"
#include "common/hash.h"

#include <cjson/cJSON.h>
#include <stdint.h>

#define PROTO_VERSION 1
/* Optional features named in hello's and welcome's caps. system_files: the guest places the
 * manifest's system files (a Windows guest), so it is offered the manifest with them. */
#define PROTO_CAP_SYSTEM_FILES "system_files"
#define PROTO_CAPS_MAX 16
/* Integers in JSON stay exact up to 2^53. */
#define MSG_U64_MAX ((uint64_t)1 << 53)

#define MSG_TYPES(X)                                                                               \
  X(HELLO, "hello")               /* guest -> host: first message */                               \
  X(WELCOME, "welcome")           /* host -> guest: answer to hello */                             \
  X(OFFER, "offer")               /* host -> guest: a generation, manifest follows */              \
  X(WANT, "want")                 /* guest -> host: blobs it lacks */                              \
  X(BLOB, "blob")                 /* host -> guest: a blob's data frames follow */                 \
  X(CREDIT, "credit")             /* guest -> host: more bytes may be sent */                      \
  X(INSTALLED, "installed")       /* guest -> host: result of an offer */                          \
  X(REPORT, "report")             /* guest -> host: status report */                               \
  X(ERROR, "error")               /* either side: why the session ends */                          \
  X(NOTICE, "notice")             /* host -> guest: something to know; the session goes on */      \
  X(GET_STATUS, "get_status")     /* CLI -> host */                                                \
  X(STATUS, "status")             /* host -> CLI */                                                \
  X(GET_MANIFEST, "get_manifest") /* CLI -> host */                                                \
  X(MANIFEST, "manifest")         /* host -> CLI, manifest data frames follow */                   \
  X(PUSH, "push")                 /* CLI -> host */                                                \
  X(PROGRESS, "progress")         /* host -> CLI */                                                \
  X(PUSH_RESULT, "push_result")   /* host -> CLI */                                                \
  X(LOGIN, "login")               /* CLI -> host: a one-time dashboard login */                    \
  X(LOGIN_URL, "login_url")       /* host -> CLI */                                                \
  X(GET_BUNDLE, "get_bundle")     /* CLI -> host: the published generation, for an offline copy */ \
  X(BUNDLE, "bundle") /* host -> CLI: its signature; the manifest's data frames follow */          \
  X(BUNDLE_BLOB, "bundle_blob") /* host -> CLI: a blob's data frames follow */                     \
  X(BUNDLE_END, "bundle_end")   /* host -> CLI: every blob was sent */

enum msg_type {
#define MSG__ENUM(name, str) MSG_##name,
  MSG_TYPES(MSG__ENUM)
#undef MSG__ENUM
      MSG__COUNT
};

const char *msg_type_name(enum msg_type type);

/*
 * Parses a control payload. On success *ret_root is a new cJSON object (caller deletes) and
 * *ret_type its type. Errors: GPUPV_EJSON, GPUPV_EMSG_TYPE.
 */
int msg_parse(const uint8_t *payload, size_t len, cJSON **ret_root, enum msg_type *ret_type);
/* Returns a new object with its "type" set, or NULL when out of memory. */
cJSON *msg_new(enum msg_type type);
/* A guest's hello: this protocol, name, and the installed generation (hex, or NULL: none). */
cJSON *msg_new_hello(const char *name, const char *generation_hex);
/* {"type": type, "sha256": hex, "size": size}: the header of a blob's data frames (a push's
 * "blob", a bundle's "bundle_blob"). NULL when out of memory. */
cJSON *msg_new_blob(enum msg_type type, const uint8_t sha256[HASH_LEN], uint64_t size);
/* Appends msg as a complete control frame; GPUPV_ETOO_BIG when it exceeds the limit. */
int msg_encode(struct buf *out, const cJSON *msg);

/* Field readers: 0 on success, GPUPV_EFIELD when missing, of the wrong type or out of range. */
int msg_get_str(const cJSON *obj, const char *key, size_t max_len, const char **ret);
/* Like msg_get_str, but a missing or null member gives *ret = NULL and success. */
int msg_get_str_opt(const cJSON *obj, const char *key, size_t max_len, const char **ret);
int msg_get_u64(const cJSON *obj, const char *key, uint64_t max, uint64_t *ret);
int msg_get_bool(const cJSON *obj, const char *key, int *ret);
/* Whether the optional "caps" array of obj names cap (*ret 0 or 1; absent: 0). GPUPV_EFIELD
 * when caps is not an array of at most PROTO_CAPS_MAX strings of up to 32 bytes. */
int msg_get_cap(const cJSON *obj, const char *cap, int *ret);
int msg_get_hash(const cJSON *obj, const char *key, uint8_t ret[HASH_LEN]);
/* A missing or null member gives success with *ret_present = 0. */
int msg_get_hash_opt(const cJSON *obj, const char *key, uint8_t ret[HASH_LEN], int *ret_present);
int msg_add_hash(cJSON *obj, const char *key, const uint8_t hash[HASH_LEN]);

#endif
