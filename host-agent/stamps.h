/*
 * What a scan saw of each file and folder it read: size, times and file id. Read again after
 * the scan, they tell whether the source moved while it was read (an installer still writing),
 * so that a half-written source is never published. The folders are also what the source
 * watcher watches. Blocking (stat calls): thread pool or small sets only.
 */
#ifndef GPUPV_HOST_STAMPS_H
#define GPUPV_HOST_STAMPS_H

#include "common/fs.h"

#include <stddef.h>

struct stamp {
  char *path;
  struct fs_info info;
};

struct stamps {
  struct stamp *items;
  size_t n, dirs; /* dirs: how many items are folders */
};

/* Adds path as seen in info (a file or a folder). */
int stamps_add(struct stamps *s, const char *path, const struct fs_info *info);
/* Adds path as it is now; UV_ENOENT and other errors from the stat. */
int stamps_add_now(struct stamps *s, const char *path);
/* 0 when every path still has the size, times and id it had; else GPUPV_EMOVED with the first
 * path that moved in what (may be truncated). */
int stamps_check(const struct stamps *s, char *what, size_t what_size);
/* The latest change time (mtime or ctime, ns since 1970) of any path, and that path. */
int64_t stamps_newest(const struct stamps *s, const char **ret_path);
/* The folders, in the order they were added, as a new array of borrowed strings. */
const char **stamps_dirs(const struct stamps *s, size_t *ret_n);
void stamps_free(struct stamps *s);

#endif
