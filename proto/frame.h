/*
 * Frames: a 12-byte header (magic "GPPV", version, type, flags, payload length, all big-endian)
 * followed by the payload. See proto/PROTOCOL.md. Pure functions, no I/O.
 */
#ifndef GPUPV_PROTO_FRAME_H
#define GPUPV_PROTO_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_MAGIC 0x47505056u /* "GPPV" */
#define FRAME_VERSION 1
#define FRAME_HEADER_LEN 12
#define FRAME_CONTROL_MAX (64 * 1024)
#define FRAME_DATA_MAX (1024 * 1024)

enum frame_type { FRAME_CONTROL = 1, FRAME_DATA = 2 };

struct frame {
  uint8_t type;
  uint16_t flags;
  uint32_t len;
  const uint8_t *payload; /* borrowed from the parsed bytes */
};

/*
 * Parses one frame at the start of p. Returns the frame's total length when complete, 0 when
 * more bytes are needed, or a negative error as soon as the header is known to be bad (wrong
 * magic, version or type, or a length over the type's limit), before any payload arrives.
 */
int64_t frame_parse(const uint8_t *p, size_t n, struct frame *ret);
/*
 * Parses only the header: returns FRAME_HEADER_LEN with ret->type, flags and len set (payload
 * NULL), 0 when more bytes are needed, or the same errors as frame_parse. Lets a reader stream
 * a data frame's payload without holding all of it.
 */
int frame_parse_header(const uint8_t *p, size_t n, struct frame *ret);
void frame_header_encode(uint8_t out[FRAME_HEADER_LEN], enum frame_type type, uint16_t flags,
                         uint32_t len);

#endif
