/* File system helpers. Implemented per platform (fs-posix.c). */
#ifndef GPUPV_COMMON_FS_H
#define GPUPV_COMMON_FS_H

#include "common/buf.h"

#include <stddef.h>
#include <stdint.h>

/* Creates path and its parents; an existing directory is fine. */
int fs_mkdir_p(const char *path, int mode);
/* Removes a file or a tree without following symbolic links; a missing path is fine. */
int fs_remove_tree(const char *path);
/* Writes all of data to fd, retrying short writes. */
int fs_write_all(int fd, const void *data, size_t len);
/* Writes a file through a temporary name, fsync and rename, so readers see old or new. */
int fs_write_atomic(const char *path, const void *data, size_t len, int mode);
/* Appends the whole file to ret, failing with GPUPV_ELIMIT when it is larger than max. */
int fs_read_file(const char *path, size_t max, struct buf *ret);
/* Copies a regular file's content to a new file dst created with mode. */
int fs_copy_file(const char *src, const char *dst, int mode);
/* 1 when path is a directory (not a link to one), else 0. */
int fs_is_dir(const char *path);
/* 1 when anything (even a dangling link) exists at path. */
int fs_exists(const char *path);
/* Flushes the file system holding path to stable storage. */
int fs_sync(const char *path);
/* Makes a directory's entries durable. */
int fs_sync_dir(const char *path);
/* Replaces (or creates) a symbolic link atomically: link_path -> target. */
int fs_symlink_replace(const char *target, const char *link_path);
/* Reads a symbolic link into ret (NUL-terminated, at most size-1 bytes). */
int fs_readlink(const char *path, char *ret, size_t size);

#endif
