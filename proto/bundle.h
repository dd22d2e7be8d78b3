/*
 * The offline bundle's layout (docs/bundles.md): one tar archive, compressed with zstd (or
 * gzip), written by `gpupv bundle` and read by `gpupv-guestd --install-bundle`:
 *
 *   gpupv-bundle.json     first: the header below
 *   manifest.json         the generation's canonical manifest (SHA-256 = the generation)
 *   blobs/<sha256>        each distinct content of the manifest, once
 *   agent/<name>          optional: the guest agent's package or .exe, for a first install
 *
 * The header carries the host's signature of the generation, so a bundle is trusted exactly as
 * a push is: by the guest's pinned host key.
 */
#ifndef GPUPV_PROTO_BUNDLE_H
#define GPUPV_PROTO_BUNDLE_H

#include "common/hash.h"
#include "common/sign.h"

#include <cjson/cJSON.h>
#include <stdint.h>

#define BUNDLE_FORMAT 1
#define BUNDLE_HEADER_NAME "gpupv-bundle.json"
#define BUNDLE_MANIFEST_NAME "manifest.json"
#define BUNDLE_BLOB_PREFIX "blobs/"
#define BUNDLE_AGENT_PREFIX "agent/"
#define BUNDLE_HEADER_MAX (64u << 10)
#define BUNDLE_MANIFEST_MAX (64u << 20)

struct bundle_header {
  uint8_t generation[HASH_LEN];
  uint8_t key[SIGN_KEY_LEN];
  uint8_t signature[SIGN_SIG_LEN];
  char host[128];   /* cleaned for printing */
  char created[32]; /* ISO 8601, as written */
  char agent[128];  /* the agent/ entry's name, or empty */
  uint64_t manifest_size, blobs, bytes;
};

/* The header as JSON (new), or NULL when out of memory. */
cJSON *bundle_header_json(const struct bundle_header *h);
/* Reads and checks a header; 0, or GPUPV_EFIELD with *ret_reason naming the member. */
int bundle_header_parse(const cJSON *o, struct bundle_header *ret, const char **ret_reason);
/* The hash in a "blobs/<sha256>" name: 0, or GPUPV_EPATH when name is not one. */
int bundle_blob_name(const char *name, uint8_t ret[HASH_LEN]);

#endif
