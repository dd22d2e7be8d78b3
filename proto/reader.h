/*
 * Incremental frame reader: bytes go into its buffer in any split, complete control frames
 * come out whole and data frame payloads come out as they arrive, so a 1 MiB data frame is
 * never held in memory. No I/O: a transport reads into frame_reader_space() and calls
 * frame_reader_commit().
 */
#ifndef GPUPV_PROTO_READER_H
#define GPUPV_PROTO_READER_H

#include "common/buf.h"

#include <stddef.h>
#include <stdint.h>

struct frame_reader_ops {
  /* A whole control frame's payload. A non-zero return stops the reader and is returned. */
  int (*on_control)(void *ctx, const uint8_t *payload, size_t len);
  /* Part of a data frame's payload; frame boundaries are not visible. */
  int (*on_data)(void *ctx, const uint8_t *data, size_t len);
};

struct frame_reader {
  struct buf in;
  size_t off;         /* parsed up to here */
  uint32_t data_left; /* payload bytes still to come of the current data frame */
};

void frame_reader_init(struct frame_reader *r);
void frame_reader_done(struct frame_reader *r);
/* Free space to read into (at least want bytes); 0 or UV_ENOMEM. */
int frame_reader_space(struct frame_reader *r, size_t want, uint8_t **ret_ptr, size_t *ret_len);
/* Processes n bytes just written into the space. Returns 0, a frame error or a callback's code. */
int frame_reader_commit(struct frame_reader *r, size_t n, const struct frame_reader_ops *ops,
                        void *ctx);
/* Copies bytes in and processes them. */
int frame_reader_feed(struct frame_reader *r, const uint8_t *p, size_t n,
                      const struct frame_reader_ops *ops, void *ctx);

#endif
