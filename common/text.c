#include "common/text.h"

#include <string.h>

char *text_copy(char *dst, size_t size, const char *src) {
  if (!size)
    return dst;
  size_t n = strlen(src);
  if (n >= size)
    n = size - 1;
  memcpy(dst, src, n);
  dst[n] = 0;
  return dst;
}
