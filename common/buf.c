#include "common/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

void buf_init(struct buf *b) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

void buf_done(struct buf *b) {
  free(b->data);
  buf_init(b);
}

int buf_reserve(struct buf *b, size_t n) {
  if (n > SIZE_MAX / 2 - b->len)
    return UV_ENOMEM;
  if (b->len + n <= b->cap)
    return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + n)
    cap *= 2;
  uint8_t *p = realloc(b->data, cap);
  if (!p)
    return UV_ENOMEM;
  b->data = p;
  b->cap = cap;
  return 0;
}

int buf_append(struct buf *b, const void *data, size_t n) {
  int err = buf_reserve(b, n + 1);
  if (err)
    return err;
  if (n)
    memcpy(b->data + b->len, data, n);
  b->len += n;
  b->data[b->len] = 0; /* keeps text NUL-terminated without counting it */
  return 0;
}

int buf_append_str(struct buf *b, const char *s) {
  return buf_append(b, s, strlen(s));
}

int buf_printf(struct buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return UV_EINVAL;
  int err = buf_reserve(b, (size_t)n + 1);
  if (err)
    return err;
  va_start(ap, fmt);
  vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}

void buf_consume(struct buf *b, size_t n) {
  if (n >= b->len) {
    b->len = 0;
    return;
  }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
}

uint8_t *buf_steal(struct buf *b) {
  uint8_t *p = b->data;
  buf_init(b);
  return p;
}
