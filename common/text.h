/* Small string helpers. */
#ifndef GPUPV_COMMON_TEXT_H
#define GPUPV_COMMON_TEXT_H

#include <stddef.h>

/* Copies src into dst of size bytes, truncating, always NUL-terminated. Returns dst. */
char *text_copy(char *dst, size_t size, const char *src);

#endif
