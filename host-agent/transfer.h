/*
 * One push in flight to one guest: the generation offered, the blobs the guest asked for, the
 * credit it granted and the cursor of the blob being sent. Reference counted: the session holds
 * one reference and every thread-pool job reading for it holds another, so a job that finishes
 * after its push ended sees a dead transfer, never another push's cursors.
 */
#ifndef GPUPV_HOST_TRANSFER_H
#define GPUPV_HOST_TRANSFER_H

#include "host-agent/source.h"

#include <stddef.h>
#include <stdint.h>

/* Credit the guest may grant at once: the running total, not per message. */
#define TRANSFER_CREDIT_MAX ((uint64_t)1 << 30)

struct transfer {
  int refs;
  int ended; /* the session finished with it; jobs that still hold it drop their results */
  struct generation *gen;
  struct generation_form form; /* the form offered (its id is what the guest names) */
  uint8_t *wanted;             /* per blob of gen: 1 when the guest asked for it */
  size_t *want;                /* blob indices in the order asked */
  size_t nwant, next_want;
  uint64_t credit; /* bytes the host may still send */
  uint64_t bytes_total, bytes_sent, files_sent, started_ms, wire_start;
  /* the blob being sent */
  struct source_reader *reader;
  size_t cur_blob;
  uint64_t cur_left;
};

/* A new transfer of gen (which it references) in the form for a guest with or without the
 * system_files capability, with one reference; NULL when out of memory. */
struct transfer *transfer_new(struct generation *gen, int system_files, uint64_t now_ms);
struct transfer *transfer_ref(struct transfer *t);
/* Drops a reference; the last one closes the reader and frees. NULL is fine. */
void transfer_unref(struct transfer *t);
/* Records that the guest asks for the blob with this hash: GPUPV_EPROTO when the hash is not
 * in the manifest or was asked before. */
int transfer_want(struct transfer *t, const uint8_t hash[HASH_LEN]);
/* Adds credit; GPUPV_ELIMIT when the credit outstanding would pass TRANSFER_CREDIT_MAX. */
int transfer_add_credit(struct transfer *t, uint64_t bytes);
/* Moves to the next wanted blob; its index in *ret_blob. 0 when there is none left. */
int transfer_next_blob(struct transfer *t, size_t *ret_blob);
/* Bytes of the current blob for the next chunk (at most max), or 0 when the credit does not
 * cover it yet. */
uint64_t transfer_chunk(const struct transfer *t, uint64_t max);
/* A chunk of len bytes was sent. */
void transfer_sent(struct transfer *t, uint64_t len);
/* 1 when every wanted blob has been sent in full. */
int transfer_done(const struct transfer *t);

#endif
