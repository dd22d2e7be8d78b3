/*
 * The guest's receive pipeline: blob bytes from the connection become verified staged objects.
 * Bytes are gathered into 1 MiB chunks; each chunk goes down two thread-pool lanes that run
 * side by side, one hashing (in order) and one writing, and a blob is published only when its
 * hash matches. Memory is bounded by RECEIVER_CHUNKS_MAX chunks. Loop thread only.
 */
#ifndef GPUPV_GUEST_RECEIVER_H
#define GPUPV_GUEST_RECEIVER_H

#include "common/hash.h"
#include "guest-agent/store.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define RECEIVER_CHUNK (1u << 20)
#define RECEIVER_CHUNKS_MAX 4

struct receiver_ops {
  /* A blob is verified and stored as an object with record (err 0), or refused (GPUPV_EHASH)
   * or failed to write (record NULL). */
  void (*on_blob)(void *ctx, const uint8_t sha256[HASH_LEN], int err,
                  const struct object_record *record);
  /* bytes were hashed and written: the sender may send that much more */
  void (*on_consumed)(void *ctx, size_t bytes);
};

struct chunk;
struct blob_job;

struct receiver_lane {
  struct receiver *r;
  int hashing; /* 1 for the hash lane, 0 for the write lane */
  struct chunk *head, *tail, *busy;
  uv_work_t work;
};

struct receiver {
  uv_loop_t *loop;
  const struct store *store;
  const struct receiver_ops *ops;
  void *ctx;
  struct receiver_lane lanes[2];
  struct blob_job *current; /* the blob whose bytes are arriving */
  uint64_t current_left;
  int current_fresh; /* no chunk of the current blob made yet */
  struct chunk *filling;
  struct chunk *pool;
  size_t chunks; /* alive: filling, queued or in a lane */
  int works;     /* thread-pool work in flight */
};

void receiver_init(struct receiver *r, uv_loop_t *loop, const struct store *store,
                   const struct receiver_ops *ops, void *ctx);
/* Starts a blob of size bytes (size > 0); UV_EBUSY when the last one has bytes to come. */
int receiver_begin(struct receiver *r, const uint8_t sha256[HASH_LEN], uint64_t size);
/* Takes bytes of the current blob; GPUPV_EPROTO for bytes beyond its end. */
int receiver_data(struct receiver *r, const uint8_t *data, size_t len);
/* 1 while the bytes of a blob are still to come. */
int receiver_in_blob(const struct receiver *r);
/* 1 when the caller should stop reading until on_consumed. */
int receiver_full(const struct receiver *r);
/* 1 when no thread-pool work is in flight. */
int receiver_idle(const struct receiver *r);
/* Drops an unfinished blob and chunks; call only when idle. */
void receiver_reset(struct receiver *r);
void receiver_done(struct receiver *r);

#endif
