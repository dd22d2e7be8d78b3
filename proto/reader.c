#include "proto/reader.h"

#include "proto/frame.h"

#include <string.h>

void frame_reader_init(struct frame_reader *r) {
  buf_init(&r->in);
  r->off = 0;
  r->data_left = 0;
}

void frame_reader_done(struct frame_reader *r) {
  buf_done(&r->in);
}

int frame_reader_space(struct frame_reader *r, size_t want, uint8_t **ret_ptr, size_t *ret_len) {
  if (r->off) { /* only an unfinished frame's bytes remain before off: move them down */
    memmove(r->in.data, r->in.data + r->off, r->in.len - r->off);
    r->in.len -= r->off;
    r->off = 0;
  }
  int err = buf_reserve(&r->in, want ? want : 1); /* never hand out a null pointer */
  if (err)
    return err;
  *ret_ptr = r->in.data + r->in.len;
  *ret_len = r->in.cap - r->in.len;
  return 0;
}

int frame_reader_commit(struct frame_reader *r, size_t n, const struct frame_reader_ops *ops,
                        void *ctx) {
  r->in.len += n;
  int rc = 0;
  while (r->off < r->in.len) {
    const uint8_t *p = r->in.data + r->off;
    size_t avail = r->in.len - r->off;
    if (r->data_left) {
      size_t k = avail < r->data_left ? avail : r->data_left;
      r->off += k;
      r->data_left -= (uint32_t)k;
      if ((rc = ops->on_data(ctx, p, k)))
        break;
      continue;
    }
    struct frame f;
    rc = frame_parse_header(p, avail, &f);
    if (rc <= 0)
      break;
    rc = 0;
    if (f.type == FRAME_DATA) {
      r->off += FRAME_HEADER_LEN;
      r->data_left = f.len;
      continue;
    }
    if (avail - FRAME_HEADER_LEN < f.len)
      break;
    r->off += FRAME_HEADER_LEN + f.len;
    if ((rc = ops->on_control(ctx, p + FRAME_HEADER_LEN, f.len)))
      break;
  }
  if (r->off == r->in.len)
    r->off = r->in.len = 0;
  return rc;
}

int frame_reader_feed(struct frame_reader *r, const uint8_t *p, size_t n,
                      const struct frame_reader_ops *ops, void *ctx) {
  uint8_t *space;
  size_t len;
  int err = frame_reader_space(r, n, &space, &len);
  if (err)
    return err;
  if (n)
    memcpy(space, p, n);
  return frame_reader_commit(r, n, ops, ctx);
}
