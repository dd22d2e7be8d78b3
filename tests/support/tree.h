/* Walking and comparing file trees in tests. */
#ifndef GPUPV_TESTS_TREE_H
#define GPUPV_TESTS_TREE_H

#include "common/hash.h"

#include <stddef.h>
#include <stdint.h>

struct tree_entry {
  char *path; /* relative, '/'-separated */
  int is_dir;
  uint64_t size;
  unsigned mode;
  uint8_t sha256[HASH_LEN];
};

struct tree {
  struct tree_entry *e;
  size_t n;
};

/* Lists dir recursively (following dir itself when it is a link), sorted by path. A link or
 * other non-regular entry inside fails the test. */
void tree_list(const char *dir, struct tree *ret);
void tree_free(struct tree *t);
/* 1 when both trees have the same paths, kinds, modes and content; otherwise 0 with why set. */
int tree_equal(const struct tree *a, const struct tree *b, char *why, size_t why_size);
/* Bytes of the distinct non-empty content of b that a does not hold anywhere. */
uint64_t tree_new_content_bytes(const struct tree *a, const struct tree *b);
/* Turns a host tree into what the guest installs from it: files read-only (as WSL's
 * fmask=222 shows them). */
void tree_as_installed(struct tree *t);
/* 1 when every folder in t is read-only (0555); otherwise 0 with why set. */
int tree_folders_sealed(const struct tree *t, char *why, size_t why_size);
/* Adds b's entries under prefix into a (for building an expected tree). */
void tree_merge(struct tree *a, const struct tree *b, int replace);

#endif
