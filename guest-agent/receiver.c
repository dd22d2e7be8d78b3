#include "guest-agent/receiver.h"

#include "common/err.h"

#include <stdlib.h>
#include <string.h>

enum { LANE_HASH, LANE_WRITE };

struct blob_job {
  struct receiver *r;
  uint8_t sha256[HASH_LEN];
  struct hash_ctx hash;     /* hash lane only */
  struct store_blob *file;  /* write lane only, until finished */
  uint8_t digest[HASH_LEN]; /* set by the hash lane with the last chunk */
  int hash_err, write_err;
  int lanes_finished; /* lanes that have processed the last chunk */
  uv_work_t finish;
  int finish_err;
  struct object_record record; /* of the object, once finished */
};

struct chunk {
  struct chunk *next[2]; /* per lane */
  struct blob_job *blob;
  int first, last, pending;
  size_t len;
  uint8_t data[RECEIVER_CHUNK];
};

static void lane_kick(struct receiver_lane *lane);

void receiver_init(struct receiver *r, uv_loop_t *loop, const struct store *store,
                   const struct receiver_ops *ops, void *ctx) {
  memset(r, 0, sizeof *r);
  r->loop = loop;
  r->store = store;
  r->ops = ops;
  r->ctx = ctx;
  for (int i = 0; i < 2; i++) {
    r->lanes[i].r = r;
    r->lanes[i].hashing = i == LANE_HASH;
  }
}

static struct chunk *chunk_get(struct receiver *r) {
  struct chunk *c = r->pool;
  if (c)
    r->pool = c->next[0];
  else if (!(c = malloc(sizeof *c)))
    return NULL;
  memset(c, 0, offsetof(struct chunk, data));
  r->chunks++;
  return c;
}

static void chunk_put(struct receiver *r, struct chunk *c) {
  r->chunks--;
  c->next[0] = r->pool;
  r->pool = c;
}

static void blob_free(struct blob_job *b) {
  if (!b)
    return;
  hash_done(&b->hash);
  store_blob_abort(b->file);
  free(b);
}

int receiver_begin(struct receiver *r, const uint8_t sha256[HASH_LEN], uint64_t size) {
  if (r->current_left)
    return UV_EBUSY;
  struct blob_job *b = calloc(1, sizeof *b);
  if (!b)
    return UV_ENOMEM;
  b->r = r;
  memcpy(b->sha256, sha256, HASH_LEN);
  b->finish.data = b;
  r->current = b;
  r->current_left = size;
  r->current_fresh = 1;
  return 0;
}

int receiver_in_blob(const struct receiver *r) {
  return r->current_left > 0;
}

int receiver_full(const struct receiver *r) {
  return r->chunks >= RECEIVER_CHUNKS_MAX;
}

int receiver_idle(const struct receiver *r) {
  return r->works == 0 && !r->lanes[0].head && !r->lanes[1].head;
}

static void enqueue(struct receiver *r, struct chunk *c) {
  c->pending = 2;
  for (int i = 0; i < 2; i++) {
    struct receiver_lane *lane = &r->lanes[i];
    c->next[i] = NULL;
    if (lane->tail)
      lane->tail->next[i] = c;
    else
      lane->head = c;
    lane->tail = c;
    lane_kick(lane);
  }
}

int receiver_data(struct receiver *r, const uint8_t *data, size_t len) {
  while (len) {
    if (!r->current_left)
      return GPUPV_EPROTO;
    if (!r->filling) {
      if (!(r->filling = chunk_get(r)))
        return UV_ENOMEM;
      r->filling->blob = r->current;
      r->filling->first = r->current_fresh;
      r->current_fresh = 0;
    }
    struct chunk *c = r->filling;
    size_t k = RECEIVER_CHUNK - c->len;
    if (k > len)
      k = len;
    if (k > r->current_left)
      k = (size_t)r->current_left;
    memcpy(c->data + c->len, data, k);
    c->len += k;
    r->current_left -= k;
    data += k;
    len -= k;
    if (r->current_left == 0 || c->len == RECEIVER_CHUNK) {
      c->last = r->current_left == 0;
      r->filling = NULL;
      if (c->last)
        r->current = NULL; /* the lanes own the blob from here */
      enqueue(r, c);
    }
  }
  return 0;
}

static void lane_work(uv_work_t *w) {
  struct receiver_lane *lane = w->data;
  struct chunk *c = lane->busy;
  struct blob_job *b = c->blob;
  if (lane->hashing) {
    if (c->first)
      b->hash_err = hash_init(&b->hash);
    if (b->hash_err)
      return;
    hash_update(&b->hash, c->data, c->len);
    if (c->last)
      hash_final(&b->hash, b->digest);
    return;
  }
  if (c->first)
    b->write_err = store_blob_open(lane->r->store, b->sha256, &b->file);
  if (!b->write_err)
    b->write_err = store_blob_write(b->file, c->data, c->len);
}

static void finish_work(uv_work_t *w) {
  struct blob_job *b = w->data;
  if (b->hash_err || b->write_err) {
    b->finish_err = b->write_err ? b->write_err : b->hash_err;
    store_blob_abort(b->file);
  } else {
    b->finish_err = store_blob_finish(b->file, b->digest, &b->record);
  }
  b->file = NULL;
}

static void finish_done(uv_work_t *w, int status) {
  struct blob_job *b = w->data;
  struct receiver *r = b->r;
  r->works--;
  int err = status ? status : b->finish_err;
  uint8_t sha[HASH_LEN];
  struct object_record record = b->record;
  memcpy(sha, b->sha256, HASH_LEN);
  blob_free(b);
  r->ops->on_blob(r->ctx, sha, err, err ? NULL : &record);
}

static void lane_done(uv_work_t *w, int status) {
  (void)status;
  struct receiver_lane *lane = w->data;
  struct receiver *r = lane->r;
  struct chunk *c = lane->busy;
  struct blob_job *b = c->blob;
  lane->busy = NULL;
  r->works--;
  if (c->last && ++b->lanes_finished == 2) {
    r->works++;
    if (uv_queue_work(r->loop, &b->finish, finish_work, finish_done)) {
      r->works--;
      b->finish_err = UV_ENOMEM;
      finish_done(&b->finish, UV_ENOMEM);
    }
  }
  size_t len = c->len;
  int consumed = --c->pending == 0;
  if (consumed)
    chunk_put(r, c);
  lane_kick(lane); /* before the callback, which may ask whether we are idle */
  if (consumed)
    r->ops->on_consumed(r->ctx, len);
}

static void lane_kick(struct receiver_lane *lane) {
  struct receiver *r = lane->r;
  int i = lane->hashing ? LANE_HASH : LANE_WRITE;
  if (lane->busy || !lane->head)
    return;
  struct chunk *c = lane->head;
  lane->head = c->next[i];
  if (!lane->head)
    lane->tail = NULL;
  lane->busy = c;
  lane->work.data = lane;
  r->works++;
  if (uv_queue_work(r->loop, &lane->work, lane_work, lane_done)) {
    /* cannot happen with a valid loop; keep the accounting straight anyway */
    r->works--;
    lane->busy = NULL;
  }
}

void receiver_reset(struct receiver *r) {
  if (r->filling) {
    chunk_put(r, r->filling);
    r->filling = NULL;
  }
  /* The blob still arriving never reached the finish step, so it is still ours. */
  blob_free(r->current);
  r->current = NULL;
  r->current_left = 0;
  r->current_fresh = 0;
}

void receiver_done(struct receiver *r) {
  receiver_reset(r);
  while (r->pool) {
    struct chunk *next = r->pool->next[0];
    free(r->pool);
    r->pool = next;
  }
}
