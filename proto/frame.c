#include "proto/frame.h"

#include "common/err.h"

static uint32_t load32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void store32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

int frame_parse_header(const uint8_t *p, size_t n, struct frame *ret) {
  /* Check what we have of the magic early so garbage is refused at its first byte. */
  static const uint8_t magic[4] = {'G', 'P', 'P', 'V'};
  for (size_t i = 0; i < n && i < 4; i++)
    if (p[i] != magic[i])
      return GPUPV_EMAGIC;
  if (n < FRAME_HEADER_LEN)
    return 0;
  if (p[4] != FRAME_VERSION)
    return GPUPV_EVERSION;
  uint8_t type = p[5];
  uint32_t len = load32(p + 8);
  uint32_t max;
  switch (type) {
  case FRAME_CONTROL:
    max = FRAME_CONTROL_MAX;
    break;
  case FRAME_DATA:
    max = FRAME_DATA_MAX;
    break;
  default:
    return GPUPV_EFRAME_TYPE;
  }
  if (len > max)
    return GPUPV_ETOO_BIG;
  ret->type = type;
  ret->flags = (uint16_t)(p[6] << 8 | p[7]);
  ret->len = len;
  ret->payload = NULL;
  return FRAME_HEADER_LEN;
}

int64_t frame_parse(const uint8_t *p, size_t n, struct frame *ret) {
  struct frame f;
  int rc = frame_parse_header(p, n, &f);
  if (rc <= 0)
    return rc;
  if (n - FRAME_HEADER_LEN < f.len)
    return 0;
  f.payload = p + FRAME_HEADER_LEN;
  *ret = f;
  return (int64_t)FRAME_HEADER_LEN + f.len;
}

void frame_header_encode(uint8_t out[FRAME_HEADER_LEN], enum frame_type type, uint16_t flags,
                         uint32_t len) {
  store32(out, FRAME_MAGIC);
  out[4] = FRAME_VERSION;
  out[5] = (uint8_t)type;
  out[6] = (uint8_t)(flags >> 8);
  out[7] = (uint8_t)flags;
  store32(out + 8, len);
}
