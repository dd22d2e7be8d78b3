#include "host-agent/bundle-send.h"

#include "common/err.h"
#include "common/log.h"
#include "proto/bundle.h"
#include "proto/frame.h"
#include "proto/msg.h"

#include <stdio.h>
#include <stdlib.h>

#define BUNDLE_CHUNK (1u << 20)

struct bundle_send {
  uv_loop_t *loop;
  struct conn *c; /* NULL once stopped */
  struct generation *gen;
  size_t next_blob;             /* the blob being sent, or nblobs once all were */
  uint64_t left;                /* its bytes still to read */
  struct source_reader *reader; /* its open file, between reads */
  int reading;                  /* a read is on the thread pool */
  uv_work_t work;
  /* the read's result */
  uint8_t *mem;
  size_t len;
  int err;
};

static void pump(struct bundle_send *b);

static void bundle_free(struct bundle_send *b) {
  source_close(b->reader);
  generation_unref(b->gen);
  free(b->mem);
  free(b);
}

static int send_blob_header(struct bundle_send *b) {
  const struct manifest_blob *blob = &b->gen->blobs[b->next_blob];
  cJSON *msg = msg_new_blob(MSG_BUNDLE_BLOB, blob->sha256, blob->size);
  int err = msg ? conn_send_msg(b->c, msg) : UV_ENOMEM;
  cJSON_Delete(msg);
  b->left = blob->size;
  return err;
}

static void read_work(uv_work_t *w) {
  struct bundle_send *b = w->data;
  size_t want = b->left < BUNDLE_CHUNK ? (size_t)b->left : BUNDLE_CHUNK;
  const struct source_ref *ref = generation_blob_ref(b->gen, b->next_blob);
  if (!b->reader && (b->err = source_open(ref, b->gen->blobs[b->next_blob].size, &b->reader)))
    return;
  ssize_t n = source_read(b->reader, b->mem + FRAME_HEADER_LEN, want);
  b->err = n < 0 ? (int)n : (size_t)n != want ? UV_EAGAIN : 0; /* shorter: it changed */
  b->len = b->err ? 0 : want;
}

static void read_done(uv_work_t *w, int status) {
  struct bundle_send *b = w->data;
  b->reading = 0;
  if (!b->c) {
    bundle_free(b);
    return;
  }
  int err = status ? status : b->err;
  if (err) {
    const struct source_ref *ref = generation_blob_ref(b->gen, b->next_blob);
    conn_fail(b->c, err, "bundle: host cannot read %s%s%s: %s; let it rescan, then try again",
              ref->path, ref->member ? "!" : "", ref->member ? ref->member : "",
              err == UV_EAGAIN ? "it changed since the scan" : gpupv_strerror(err));
    return;
  }
  uint8_t *mem = b->mem;
  b->mem = NULL;
  b->left -= b->len;
  if ((err = conn_send_data(b->c, mem, b->len))) {
    conn_close(b->c, err);
    return;
  }
  if (!b->left) {
    source_close(b->reader);
    b->reader = NULL;
    b->next_blob++;
  }
  pump(b);
}

static void send_end(struct bundle_send *b) {
  cJSON *msg = msg_new(MSG_BUNDLE_END);
  int err = UV_ENOMEM;
  if (msg && cJSON_AddNumberToObject(msg, "blobs", (double)b->gen->nblobs))
    err = conn_send_msg(b->c, msg);
  cJSON_Delete(msg);
  if (err)
    conn_close(b->c, err);
  b->next_blob = b->gen->nblobs + 1; /* done */
}

static void pump(struct bundle_send *b) {
  while (b->c && !b->reading && b->next_blob <= b->gen->nblobs) {
    if (b->c->write_queued >= CONN_HIGH_WATER)
      return; /* bundle_send_drain goes on */
    if (b->next_blob == b->gen->nblobs) {
      send_end(b);
      return;
    }
    if (!b->reader && !b->left) {
      int err = send_blob_header(b);
      if (err) {
        conn_close(b->c, err);
        return;
      }
      if (!b->left) { /* an empty blob: its header says it all */
        b->next_blob++;
        continue;
      }
    }
    size_t want = b->left < BUNDLE_CHUNK ? (size_t)b->left : BUNDLE_CHUNK;
    if (!(b->mem = malloc(FRAME_HEADER_LEN + want))) {
      conn_close(b->c, UV_ENOMEM);
      return;
    }
    b->work.data = b;
    b->reading = 1;
    int err = uv_queue_work(b->loop, &b->work, read_work, read_done);
    if (err) {
      b->reading = 0;
      conn_close(b->c, err);
      return;
    }
  }
}

struct bundle_send *bundle_send_start(uv_loop_t *loop, struct conn *c,
                                      const struct session_offer *offer) {
  struct generation *gen = offer->gen;
  if (!gen) {
    conn_fail(c, GPUPV_EPUSH_FAILED,
              "bundle: the host has published nothing yet (see gpupv "
              "status for the scan's error)");
    return NULL;
  }
  uint64_t bytes = 0;
  for (size_t i = 0; i < gen->nblobs; i++)
    bytes += gen->blobs[i].size;
  struct bundle_send *b = calloc(1, sizeof *b);
  cJSON *msg = msg_new(MSG_BUNDLE);
  int err = UV_ENOMEM;
  /* the full form, system files included: every guest that reads bundles takes it */
  if (b && msg && cJSON_AddNumberToObject(msg, "format", BUNDLE_FORMAT) &&
      cJSON_AddStringToObject(msg, "generation", gen->id_hex) &&
      cJSON_AddStringToObject(msg, "key", offer->key_hex) &&
      cJSON_AddStringToObject(msg, "signature", offer->signature_hex) &&
      cJSON_AddStringToObject(msg, "host", offer->host_name) &&
      cJSON_AddNumberToObject(msg, "blobs", (double)gen->nblobs) &&
      cJSON_AddNumberToObject(msg, "bytes", (double)bytes) &&
      cJSON_AddNumberToObject(msg, "manifest_size", (double)gen->encoded.len) &&
      !(err = conn_send_msg(c, msg)))
    err = conn_send_bytes(c, gen->encoded.data, gen->encoded.len);
  cJSON_Delete(msg);
  if (err) {
    free(b);
    conn_close(c, err);
    return NULL;
  }
  b->loop = loop;
  b->c = c;
  b->gen = generation_ref(gen);
  log_info("%s: sending generation %.12s for a bundle (%zu blobs)", c->peer, gen->id_hex,
           gen->nblobs);
  pump(b);
  return b;
}

void bundle_send_drain(struct bundle_send *b) {
  pump(b);
}

void bundle_send_stop(struct bundle_send *b) {
  b->c = NULL;
  if (!b->reading)
    bundle_free(b);
}
