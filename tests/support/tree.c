#include "tests/support/tree.h"

#include "common/path.h"
#include "tests/support/test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void add(struct tree *t, const struct tree_entry *e) {
  t->e = realloc(t->e, (t->n + 1) * sizeof *t->e);
  CHECK(t->e);
  t->e[t->n++] = *e;
}

static void walk(struct tree *t, const char *dir, const char *rel) {
  DIR *d = opendir(dir);
  CHECK_MSG(d, "opendir %s: %s", dir, strerror(errno));
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
      continue;
    char *path = path_join(dir, de->d_name);
    char *sub = *rel ? path_join(rel, de->d_name) : strdup(de->d_name);
    struct stat st;
    CHECK(lstat(path, &st) == 0);
    struct tree_entry e = {sub, S_ISDIR(st.st_mode), 0, st.st_mode & 07777, {0}};
    if (S_ISDIR(st.st_mode)) {
      add(t, &e);
      walk(t, path, sub);
    } else {
      CHECK_MSG(S_ISREG(st.st_mode), "%s is not a regular file", path);
      e.size = (uint64_t)st.st_size;
      int fd = open(path, O_RDONLY);
      CHECK(fd >= 0 && hash_fd(fd, e.sha256, NULL) == 0);
      close(fd);
      add(t, &e);
    }
    free(path);
  }
  closedir(d);
}

static int cmp_entry(const void *a, const void *b) {
  return strcmp(((const struct tree_entry *)a)->path, ((const struct tree_entry *)b)->path);
}

void tree_list(const char *dir, struct tree *ret) {
  ret->e = NULL;
  ret->n = 0;
  walk(ret, dir, "");
  if (ret->n)
    qsort(ret->e, ret->n, sizeof *ret->e, cmp_entry);
}

void tree_free(struct tree *t) {
  for (size_t i = 0; i < t->n; i++)
    free(t->e[i].path);
  free(t->e);
  t->e = NULL;
  t->n = 0;
}

int tree_equal(const struct tree *a, const struct tree *b, char *why, size_t why_size) {
  size_t i = 0;
  for (; i < a->n && i < b->n; i++) {
    const struct tree_entry *x = &a->e[i], *y = &b->e[i];
    if (strcmp(x->path, y->path) != 0) {
      snprintf(why, why_size, "'%s' against '%s'", x->path, y->path);
      return 0;
    }
    if (x->is_dir != y->is_dir || (!x->is_dir && (x->mode & 0777) != (y->mode & 0777)) ||
        x->size != y->size || memcmp(x->sha256, y->sha256, HASH_LEN) != 0) {
      snprintf(why, why_size, "'%s' differs (kind, mode, size or content)", x->path);
      return 0;
    }
  }
  if (i < a->n || i < b->n) {
    snprintf(why, why_size, "'%s' only on one side", i < a->n ? a->e[i].path : b->e[i].path);
    return 0;
  }
  return 1;
}

uint64_t tree_new_content_bytes(const struct tree *a, const struct tree *b) {
  uint64_t total = 0;
  for (size_t i = 0; i < b->n; i++) {
    const struct tree_entry *y = &b->e[i];
    if (y->is_dir || y->size == 0)
      continue;
    int seen = 0;
    for (size_t j = 0; j < a->n && !seen; j++)
      seen = !a->e[j].is_dir && memcmp(a->e[j].sha256, y->sha256, HASH_LEN) == 0;
    for (size_t j = 0; j < i && !seen; j++)
      seen = !b->e[j].is_dir && memcmp(b->e[j].sha256, y->sha256, HASH_LEN) == 0;
    if (!seen)
      total += y->size;
  }
  return total;
}

void tree_merge(struct tree *a, const struct tree *b, int replace) {
  for (size_t i = 0; i < b->n; i++) {
    size_t j = 0;
    while (j < a->n && strcmp(a->e[j].path, b->e[i].path) != 0)
      j++;
    struct tree_entry e = b->e[i];
    e.path = strdup(e.path);
    if (j < a->n) {
      if (replace) {
        free(a->e[j].path);
        a->e[j] = e;
      } else {
        free(e.path);
      }
    } else {
      add(a, &e);
    }
  }
  if (a->n)
    qsort(a->e, a->n, sizeof *a->e, cmp_entry);
}

void tree_as_installed(struct tree *t) {
  for (size_t i = 0; i < t->n; i++)
    if (!t->e[i].is_dir)
      t->e[i].mode &= ~0222u;
}

int tree_folders_sealed(const struct tree *t, char *why, size_t why_size) {
  for (size_t i = 0; i < t->n; i++) {
    if (t->e[i].is_dir && (t->e[i].mode & 0777) != 0555) {
      snprintf(why, why_size, "folder '%s' has mode %o, not 0555", t->e[i].path, t->e[i].mode);
      return 0;
    }
  }
  return 1;
}
