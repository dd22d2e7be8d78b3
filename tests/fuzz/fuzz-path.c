/* libFuzzer target: path checks; an accepted path never escapes or names a device. */
#include "common/path.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *p = malloc(size + 1);
  if (!p)
    return 0;
  memcpy(p, data, size);
  p[size] = 0;
  if (path_check_relative(p, NULL) == 0) {
    if (p[0] == '/' || strstr(p, "//") || strstr(p, "\\") || strcmp(p, "..") == 0 ||
        strncmp(p, "../", 3) == 0 || strstr(p, "/../") || strstr(p, ":"))
      abort();
    size_t n = strlen(p);
    if (n >= 3 && strcmp(p + n - 3, "/..") == 0)
      abort();
  }
  path_check_component(p, NULL);
  free(p);
  return 0;
}
