/* libFuzzer target: manifest decoding; anything accepted must re-encode to the same bytes. */
#include "proto/manifest.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct manifest *m;
  if (manifest_decode(data, size, &MANIFEST_DEFAULT_LIMITS, &m, NULL))
    return 0;
  struct buf again;
  buf_init(&again);
  if (manifest_encode(m, &again, NULL) || again.len != size || memcmp(again.data, data, size))
    abort(); /* decode accepted something the encoder would not produce */
  for (size_t i = 0; i < m->nfiles; i++)
    free(manifest_file_dest(m, &m->files[i]));
  buf_done(&again);
  manifest_free(m);
  return 0;
}
