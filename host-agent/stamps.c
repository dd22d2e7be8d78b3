#include "host-agent/stamps.h"

#include "common/err.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

int stamps_add(struct stamps *s, const char *path, const struct fs_info *info) {
  if (s->n % 64 == 0) {
    struct stamp *more = realloc(s->items, (s->n + 64) * sizeof *more);
    if (!more)
      return UV_ENOMEM;
    s->items = more;
  }
  char *copy = strdup(path);
  if (!copy)
    return UV_ENOMEM;
  s->items[s->n++] = (struct stamp){copy, *info};
  s->dirs += info->type == FS_DIR;
  return 0;
}

int stamps_add_now(struct stamps *s, const char *path) {
  struct fs_info info;
  int err = fs_info_path(path, &info);
  return err ? err : stamps_add(s, path, &info);
}

static int same(const struct fs_info *a, const struct fs_info *b) {
  /* a folder's size is its entries' space, which moves with them; its times say it too */
  return a->type == b->type && (a->type == FS_DIR || a->size == b->size) &&
         a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns && a->id == b->id;
}

int stamps_check(const struct stamps *s, char *what, size_t what_size) {
  for (size_t i = 0; i < s->n; i++) {
    struct fs_info now;
    int err = fs_info_path(s->items[i].path, &now);
    if (err || !same(&now, &s->items[i].info)) {
      snprintf(what, what_size, "%s", s->items[i].path);
      return GPUPV_EMOVED;
    }
  }
  return 0;
}

int64_t stamps_newest(const struct stamps *s, const char **ret_path) {
  int64_t newest = INT64_MIN;
  *ret_path = NULL;
  for (size_t i = 0; i < s->n; i++) {
    const struct fs_info *f = &s->items[i].info;
    int64_t t = f->mtime_ns > f->ctime_ns ? f->mtime_ns : f->ctime_ns;
    if (t > newest) {
      newest = t;
      *ret_path = s->items[i].path;
    }
  }
  return newest;
}

const char **stamps_dirs(const struct stamps *s, size_t *ret_n) {
  const char **dirs = malloc((s->dirs ? s->dirs : 1) * sizeof *dirs);
  size_t n = 0;
  for (size_t i = 0; dirs && i < s->n; i++)
    if (s->items[i].info.type == FS_DIR)
      dirs[n++] = s->items[i].path;
  *ret_n = n;
  return dirs;
}

void stamps_free(struct stamps *s) {
  for (size_t i = 0; i < s->n; i++)
    free(s->items[i].path);
  free(s->items);
  memset(s, 0, sizeof *s);
}
