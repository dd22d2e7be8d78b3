/* Frames and the incremental reader, against tests/data/frame-vectors.json, fed whole, a byte
 * at a time and split at random. */
#include "common/buf.h"
#include "common/err.h"
#include "common/fs.h"
#include "proto/frame.h"
#include "proto/reader.h"
#include "tests/support/test.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct events {
  struct buf control; /* payloads joined by '\n' */
  struct buf data;
};

static int on_control(void *ctx, const uint8_t *p, size_t n) {
  struct events *e = ctx;
  buf_append(&e->control, p, n);
  buf_append(&e->control, "\n", 1);
  return 0;
}

static int on_data(void *ctx, const uint8_t *p, size_t n) {
  struct events *e = ctx;
  buf_append(&e->data, p, n);
  return 0;
}

static const struct frame_reader_ops ops = {on_control, on_data};

static size_t unhex(const char *hex, uint8_t **ret) {
  size_t n = strlen(hex) / 2;
  uint8_t *b = malloc(n + 1);
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    sscanf(hex + 2 * i, "%2x", &v);
    b[i] = (uint8_t)v;
  }
  *ret = b;
  return n;
}

/* Feeds bytes in pieces chosen by split(); returns the first error. */
static int feed(const uint8_t *bytes, size_t n, unsigned seed, int mode, struct events *ev) {
  struct frame_reader r;
  frame_reader_init(&r);
  buf_init(&ev->control);
  buf_init(&ev->data);
  int err = 0;
  size_t off = 0;
  srand(seed);
  while (off < n && !err) {
    size_t k = mode == 0 ? n - off : mode == 1 ? 1 : 1 + (size_t)rand() % 97;
    if (k > n - off)
      k = n - off;
    err = frame_reader_feed(&r, bytes + off, k, &ops, ev);
    off += k;
  }
  frame_reader_done(&r);
  return err;
}

TEST(unit_frame_vectors) {
  char path[1024];
  struct buf text;
  buf_init(&text);
  snprintf(path, sizeof path, "%s/frame-vectors.json", test_data_dir());
  CHECK(fs_read_file(path, 1 << 20, &text) == 0);
  cJSON *vectors = cJSON_ParseWithLength((char *)text.data, text.len);
  CHECK(cJSON_GetArraySize(vectors) >= 10);
  const cJSON *v;
  cJSON_ArrayForEach(v, vectors) {
    const char *name = cJSON_GetObjectItem(v, "name")->valuestring;
    uint8_t *bytes;
    size_t n = unhex(cJSON_GetObjectItem(v, "hex")->valuestring, &bytes);
    struct buf want_control;
    buf_init(&want_control);
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(v, "control")) {
      buf_append_str(&want_control, c->valuestring);
      buf_append(&want_control, "\n", 1);
    }
    uint8_t *want_data;
    size_t ndata = unhex(cJSON_GetObjectItem(v, "data")->valuestring, &want_data);
    const cJSON *error = cJSON_GetObjectItem(v, "error");
    for (int mode = 0; mode < 3; mode++) {
      for (unsigned seed = 1; seed <= (mode == 2 ? 20u : 1u); seed++) {
        struct events ev;
        int err = feed(bytes, n, seed, mode, &ev);
        if (cJSON_IsString(error))
          CHECK_MSG(err && strcmp(gpupv_strerror(err), error->valuestring) == 0,
                    "%s (mode %d): got '%s'", name, mode, err ? gpupv_strerror(err) : "no error");
        else
          CHECK_MSG(err == 0, "%s (mode %d): %s", name, mode, gpupv_strerror(err));
        CHECK_MSG(
            ev.control.len == want_control.len &&
                (!ev.control.len || !memcmp(ev.control.data, want_control.data, ev.control.len)),
            "%s (mode %d): control payloads differ", name, mode);
        CHECK_MSG(ev.data.len == ndata && (!ndata || !memcmp(ev.data.data, want_data, ndata)),
                  "%s (mode %d): data differs", name, mode);
        buf_done(&ev.control);
        buf_done(&ev.data);
      }
    }
    free(bytes);
    free(want_data);
    buf_done(&want_control);
  }
  cJSON_Delete(vectors);
  buf_done(&text);
}

TEST(unit_frame_header_checked_before_payload) {
  /* An oversized length is refused with only the header in hand: nothing is allocated. */
  uint8_t h[FRAME_HEADER_LEN];
  struct frame f;
  frame_header_encode(h, FRAME_CONTROL, 0, FRAME_CONTROL_MAX + 1);
  CHECK_EQ_INT(frame_parse(h, sizeof h, &f), GPUPV_ETOO_BIG);
  frame_header_encode(h, FRAME_CONTROL, 0, FRAME_CONTROL_MAX);
  CHECK_EQ_INT(frame_parse(h, sizeof h, &f), 0); /* valid, needs the payload */
  CHECK_EQ_INT(frame_parse_header(h, sizeof h, &f), FRAME_HEADER_LEN);
  CHECK_EQ_INT(f.len, FRAME_CONTROL_MAX);
  /* garbage is refused at its first byte */
  CHECK_EQ_INT(frame_parse((const uint8_t *)"X", 1, &f), GPUPV_EMAGIC);
  CHECK_EQ_INT(frame_parse((const uint8_t *)"GP", 2, &f), 0);
  /* round trip */
  uint8_t full[FRAME_HEADER_LEN + 3];
  frame_header_encode(full, FRAME_DATA, 7, 3);
  memcpy(full + FRAME_HEADER_LEN, "abc", 3);
  CHECK_EQ_INT(frame_parse(full, sizeof full, &f), sizeof full);
  CHECK_EQ_INT(f.type, FRAME_DATA);
  CHECK_EQ_INT(f.flags, 7);
  CHECK(memcmp(f.payload, "abc", 3) == 0);
}

static int stop_on_control(void *ctx, const uint8_t *p, size_t n) {
  (void)p, (void)n;
  ++*(int *)ctx;
  return 1;
}

TEST(unit_frame_reader_empty_feed) {
  /* found by fuzz-frame: an empty first feed must not hand out a null buffer */
  struct frame_reader r;
  struct events ev;
  buf_init(&ev.control);
  buf_init(&ev.data);
  frame_reader_init(&r);
  CHECK_EQ_INT(frame_reader_feed(&r, (const uint8_t *)"", 0, &ops, &ev), 0);
  uint8_t *space;
  size_t len;
  CHECK(frame_reader_space(&r, 0, &space, &len) == 0 && space != NULL && len > 0);
  frame_reader_done(&r);
}

TEST(unit_frame_reader_stops_on_callback) {
  /* A callback's non-zero return stops the reader and keeps the rest for later. */
  static const struct frame_reader_ops stop_ops = {stop_on_control, NULL};
  uint8_t two[2 * (FRAME_HEADER_LEN + 2)];
  frame_header_encode(two, FRAME_CONTROL, 0, 2);
  memcpy(two + FRAME_HEADER_LEN, "{}", 2);
  memcpy(two + FRAME_HEADER_LEN + 2, two, FRAME_HEADER_LEN + 2);
  struct frame_reader r;
  int seen = 0;
  frame_reader_init(&r);
  CHECK_EQ_INT(frame_reader_feed(&r, two, sizeof two, &stop_ops, &seen), 1);
  CHECK_EQ_INT(seen, 1);
  CHECK_EQ_INT(frame_reader_commit(&r, 0, &stop_ops, &seen), 1);
  CHECK_EQ_INT(seen, 2);
  CHECK_EQ_INT(frame_reader_commit(&r, 0, &stop_ops, &seen), 0);
  frame_reader_done(&r);
}
