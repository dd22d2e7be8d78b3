/* libFuzzer target: an offline bundle's header (what gpupv-guestd --install-bundle reads first
 * from an untrusted file) and its entry names; a header that parses must encode and parse back
 * to the same header. */
#include "proto/bundle.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *name = malloc(size + 1);
  if (!name)
    return 0;
  memcpy(name, data, size);
  name[size] = 0;
  uint8_t sha[HASH_LEN];
  bundle_blob_name(name, sha);
  free(name);
  cJSON *o = cJSON_ParseWithLength((const char *)data, size);
  struct bundle_header h, again;
  const char *reason;
  if (o && bundle_header_parse(o, &h, &reason) == 0) {
    cJSON *encoded = bundle_header_json(&h);
    if (encoded && (bundle_header_parse(encoded, &again, &reason) != 0 ||
                    memcmp(h.generation, again.generation, HASH_LEN) != 0 ||
                    strcmp(h.host, again.host) != 0 || h.blobs != again.blobs))
      abort();
    cJSON_Delete(encoded);
  }
  cJSON_Delete(o);
  return 0;
}
