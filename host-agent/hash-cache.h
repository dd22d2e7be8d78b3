/*
 * The host's hash cache: SHA-256 by (key, size, mtime, inode), so rescanning an unchanged tree
 * reads no file content. An entry is trusted only for a file last modified before the cache
 * was written; anything modified at or after that is hashed again once.
 */
#ifndef GPUPV_HOST_HASH_CACHE_H
#define GPUPV_HOST_HASH_CACHE_H

#include "common/hash.h"

#include <stdint.h>

struct hash_cache;

struct hash_cache_key {
  const char *key; /* a file path, or "archive!member" for an archive entry */
  uint64_t size;
  int64_t mtime_ns;
  uint64_t ino;
};

/* Loads the cache at path; a missing or unreadable file gives an empty cache. *ret is new. */
int hash_cache_load(const char *path, struct hash_cache **ret);
/* 1 and the digest on a trusted hit, else 0. Marks the entry as still in use. */
int hash_cache_lookup(struct hash_cache *c, const struct hash_cache_key *k, uint8_t ret[HASH_LEN]);
int hash_cache_put(struct hash_cache *c, const struct hash_cache_key *k,
                   const uint8_t digest[HASH_LEN]);
/* Writes the entries used or added since loading, atomically, stamped with the current time. */
int hash_cache_save(struct hash_cache *c, const char *path);
void hash_cache_free(struct hash_cache *c);

#endif
