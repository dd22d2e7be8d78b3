/* A growable byte buffer. */
#ifndef GPUPV_COMMON_BUF_H
#define GPUPV_COMMON_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
  uint8_t *data;
  size_t len;
  size_t cap;
};

void buf_init(struct buf *b);
void buf_done(struct buf *b);
/* Makes room for at least n more bytes; returns 0 or UV_ENOMEM. */
int buf_reserve(struct buf *b, size_t n);
int buf_append(struct buf *b, const void *data, size_t n);
int buf_append_str(struct buf *b, const char *s);
/* printf-style checking; mingw's "printf" means Microsoft's, so name the GNU one there */
#ifdef __MINGW32__
#define GPUPV_PRINTF(fmt, args) __attribute__((format(gnu_printf, fmt, args)))
#else
#define GPUPV_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#endif

int buf_printf(struct buf *b, const char *fmt, ...) GPUPV_PRINTF(2, 3);
/* Drops the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* Hands the bytes to the caller (who frees them) and leaves the buffer empty. */
uint8_t *buf_steal(struct buf *b);

#endif
