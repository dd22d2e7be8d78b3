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

void text_hex_encode(const uint8_t *bytes, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 15];
  }
  out[2 * n] = 0;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

int text_hex_decode(const char *hex, uint8_t *out, size_t n) {
  if (!hex || strlen(hex) != 2 * n)
    return -1;
  for (size_t i = 0; i < n; i++)
    if (hex_value(hex[2 * i]) < 0 || hex_value(hex[2 * i + 1]) < 0)
      return -1;
  for (size_t i = 0; i < n; i++)
    out[i] = (uint8_t)(hex_value(hex[2 * i]) << 4 | hex_value(hex[2 * i + 1]));
  return 0;
}
