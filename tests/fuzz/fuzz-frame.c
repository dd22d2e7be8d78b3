/* libFuzzer target: the frame reader on arbitrary bytes, fed in two arbitrary pieces. */
#include "proto/reader.h"

#include <stddef.h>
#include <stdint.h>

static int on_control(void *ctx, const uint8_t *p, size_t n) {
  (void)ctx, (void)p, (void)n;
  return 0;
}

static int on_data(void *ctx, const uint8_t *p, size_t n) {
  (void)ctx, (void)p, (void)n;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const struct frame_reader_ops ops = {on_control, on_data};
  struct frame_reader r;
  frame_reader_init(&r);
  size_t split = size ? data[0] % (size + 1) : 0;
  if (frame_reader_feed(&r, data, split, &ops, NULL) == 0)
    frame_reader_feed(&r, data + split, size - split, &ops, NULL);
  frame_reader_done(&r);
  return 0;
}
