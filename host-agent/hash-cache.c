#include "host-agent/hash-cache.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/fs.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#define HASH_CACHE_HEADER "gpupv-hash-cache 1"
#define HASH_CACHE_MAX_BYTES (256u << 20)

struct entry {
  char *key;
  uint64_t size, ino;
  int64_t mtime_ns;
  uint8_t digest[HASH_LEN];
  int used;
};

struct hash_cache {
  struct entry *loaded; /* sorted by key */
  size_t nloaded;
  struct entry *fresh;
  size_t nfresh, capfresh;
  int64_t written_ns;
};

static int cmp_entry(const void *a, const void *b) {
  return strcmp(((const struct entry *)a)->key, ((const struct entry *)b)->key);
}

static int parse_line(char *line, struct entry *ret) {
  char hex[HASH_HEX_LEN + 1];
  int off = 0;
  if (sscanf(line, "%" SCNu64 " %" SCNd64 " %" SCNu64 " %64s %n", &ret->size, &ret->mtime_ns,
             &ret->ino, hex, &off) != 4 ||
      off == 0 || !line[off])
    return -1;
  if (hash_from_hex(hex, ret->digest))
    return -1;
  ret->key = strdup(line + off);
  ret->used = 0;
  return ret->key ? 0 : -1;
}

int hash_cache_load(const char *path, struct hash_cache **ret) {
  struct hash_cache *c = calloc(1, sizeof *c);
  if (!c)
    return UV_ENOMEM;
  struct buf text;
  buf_init(&text);
  if (fs_read_file(path, HASH_CACHE_MAX_BYTES, &text) == 0 && text.len) {
    size_t lines = 0;
    for (size_t i = 0; i < text.len; i++)
      lines += text.data[i] == '\n';
    c->loaded = calloc(lines + 1, sizeof *c->loaded);
    char *save = NULL;
    char *line = strtok_r((char *)text.data, "\n", &save);
    if (c->loaded && line && strncmp(line, HASH_CACHE_HEADER " ", sizeof HASH_CACHE_HEADER) == 0) {
      c->written_ns = strtoll(line + sizeof HASH_CACHE_HEADER, NULL, 10);
      while ((line = strtok_r(NULL, "\n", &save)))
        if (parse_line(line, &c->loaded[c->nloaded]) == 0)
          c->nloaded++;
      qsort(c->loaded, c->nloaded, sizeof *c->loaded, cmp_entry);
    }
  }
  buf_done(&text);
  *ret = c;
  return 0;
}

int hash_cache_lookup(struct hash_cache *c, const struct hash_cache_key *k, uint8_t ret[HASH_LEN]) {
  if (!c->nloaded)
    return 0;
  struct entry key = {.key = (char *)k->key};
  struct entry *e = bsearch(&key, c->loaded, c->nloaded, sizeof key, cmp_entry);
  if (!e || e->size != k->size || e->mtime_ns != k->mtime_ns || e->ino != k->ino ||
      k->mtime_ns >= c->written_ns)
    return 0;
  e->used = 1;
  memcpy(ret, e->digest, HASH_LEN);
  return 1;
}

int hash_cache_put(struct hash_cache *c, const struct hash_cache_key *k,
                   const uint8_t digest[HASH_LEN]) {
  if (strchr(k->key, '\n'))
    return 0; /* cannot be stored in a line; such a name fails the manifest anyway */
  if (c->nfresh == c->capfresh) {
    size_t cap = c->capfresh ? c->capfresh * 2 : 64;
    struct entry *p = realloc(c->fresh, cap * sizeof *p);
    if (!p)
      return UV_ENOMEM;
    c->fresh = p;
    c->capfresh = cap;
  }
  struct entry *e = &c->fresh[c->nfresh];
  if (!(e->key = strdup(k->key)))
    return UV_ENOMEM;
  e->size = k->size;
  e->mtime_ns = k->mtime_ns;
  e->ino = k->ino;
  memcpy(e->digest, digest, HASH_LEN);
  e->used = 1;
  c->nfresh++;
  return 0;
}

static int write_entry(struct buf *out, const struct entry *e) {
  char hex[HASH_HEX_LEN + 1];
  hash_to_hex(e->digest, hex);
  return buf_printf(out, "%" PRIu64 " %" PRId64 " %" PRIu64 " %s %s\n", e->size, e->mtime_ns,
                    e->ino, hex, e->key);
}

int hash_cache_save(struct hash_cache *c, const char *path) {
  struct buf out;
  buf_init(&out);
  uv_timeval64_t now;
  uv_gettimeofday(&now);
  int64_t now_ns = now.tv_sec * 1000000000 + (int64_t)now.tv_usec * 1000;
  int err = buf_printf(&out, HASH_CACHE_HEADER " %" PRId64 "\n", now_ns);
  for (size_t i = 0; !err && i < c->nloaded; i++)
    if (c->loaded[i].used)
      err = write_entry(&out, &c->loaded[i]);
  for (size_t i = 0; !err && i < c->nfresh; i++)
    err = write_entry(&out, &c->fresh[i]);
  if (!err)
    err = fs_write_atomic(path, out.data, out.len, 0600);
  buf_done(&out);
  return err;
}

void hash_cache_free(struct hash_cache *c) {
  if (!c)
    return;
  for (size_t i = 0; i < c->nloaded; i++)
    free(c->loaded[i].key);
  for (size_t i = 0; i < c->nfresh; i++)
    free(c->fresh[i].key);
  free(c->loaded);
  free(c->fresh);
  free(c);
}
