#include "host-agent/transfer.h"

#include "common/err.h"

#include <stdlib.h>

struct transfer *transfer_new(struct generation *gen, int system_files, uint64_t now_ms) {
  struct transfer *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  t->wanted = calloc(gen->nblobs + 1, 1);
  t->want = malloc((gen->nblobs + 1) * sizeof *t->want);
  if (!t->wanted || !t->want) {
    free(t->wanted);
    free(t->want);
    free(t);
    return NULL;
  }
  t->refs = 1;
  t->gen = generation_ref(gen);
  t->form = generation_form(gen, system_files);
  t->started_ms = now_ms;
  return t;
}

struct transfer *transfer_ref(struct transfer *t) {
  t->refs++;
  return t;
}

void transfer_unref(struct transfer *t) {
  if (!t || --t->refs > 0)
    return;
  source_close(t->reader);
  generation_unref(t->gen);
  free(t->wanted);
  free(t->want);
  free(t);
}

int transfer_want(struct transfer *t, const uint8_t hash[HASH_LEN]) {
  long b = manifest_blob_find(t->gen->blobs, t->gen->nblobs, hash);
  if (b < 0 || t->wanted[b])
    return GPUPV_EPROTO;
  t->wanted[b] = 1;
  t->want[t->nwant++] = (size_t)b;
  t->bytes_total += t->gen->blobs[b].size;
  return 0;
}

int transfer_add_credit(struct transfer *t, uint64_t bytes) {
  if (bytes > TRANSFER_CREDIT_MAX || t->credit > TRANSFER_CREDIT_MAX - bytes)
    return GPUPV_ELIMIT;
  t->credit += bytes;
  return 0;
}

int transfer_next_blob(struct transfer *t, size_t *ret_blob) {
  if (t->cur_left || t->next_want == t->nwant)
    return 0;
  source_close(t->reader);
  t->reader = NULL;
  t->cur_blob = t->want[t->next_want++];
  t->cur_left = t->gen->blobs[t->cur_blob].size;
  t->files_sent++;
  *ret_blob = t->cur_blob;
  return 1;
}

uint64_t transfer_chunk(const struct transfer *t, uint64_t max) {
  uint64_t n = t->cur_left < max ? t->cur_left : max;
  return t->credit >= n ? n : 0;
}

void transfer_sent(struct transfer *t, uint64_t len) {
  /* transfer_chunk never hands out more than the credit and the blob hold */
  t->credit -= len;
  t->cur_left -= len;
  t->bytes_sent += len;
}

int transfer_done(const struct transfer *t) {
  return t->cur_left == 0 && t->next_want == t->nwant;
}
