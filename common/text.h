/* Small string helpers. */
#ifndef GPUPV_COMMON_TEXT_H
#define GPUPV_COMMON_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Copies src into dst of size bytes, truncating, always NUL-terminated. Returns dst. */
char *text_copy(char *dst, size_t size, const char *src);
/* Lower-case hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void text_hex_encode(const uint8_t *bytes, size_t n, char *out);
/* Exactly 2n lower-case hex digits into n bytes; returns 0 or -1 (out untouched on error). */
int text_hex_decode(const char *hex, uint8_t *out, size_t n);

#endif
