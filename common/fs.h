/*
 * File system helpers. Paths are UTF-8 with '/' separators ('\' also works on Windows).
 * fs.c holds what is built from the primitives; fs-posix.c and fs-win.c the primitives.
 * Errors are UV_E* codes (or GPUPV_E*).
 */
#ifndef GPUPV_COMMON_FS_H
#define GPUPV_COMMON_FS_H

#include "common/buf.h"

#include <stddef.h>
#include <stdint.h>

enum fs_type { FS_FILE = 1, FS_DIR, FS_LINK, FS_OTHER };

struct fs_info {
  enum fs_type type;
  uint64_t size;
  int64_t mtime_ns;
  int64_t ctime_ns; /* status change: moves on every write, link or chmod (Windows ChangeTime) */
  uint64_t id;      /* inode or NTFS file index */
  uint32_t mode;    /* permission bits; 0644 or 0755 where the platform has none */
  uint32_t links;   /* hard links to the content */
};

/* --- primitives (per platform) --- */

/* What the file at path is, without following a final symbolic link or reparse point. */
int fs_info_path(const char *path, struct fs_info *ret);
int fs_info_fd(int fd, struct fs_info *ret);
/* Opens an existing file for reading (binary, not inherited); a final link is refused. */
int fs_open_read(const char *path, int *ret_fd);
/* Creates a file for writing with mode; exclusive fails when it exists, else it is truncated.
 * A final link is refused. */
int fs_open_new(const char *path, int mode, int exclusive, int *ret_fd);
/* Reads up to len bytes; returns the count (0 at the end) or a negative error. */
int64_t fs_read(int fd, void *data, size_t len);
int fs_write(int fd, const void *data, size_t len, size_t *ret_written);
int fs_fsync(int fd);
int fs_close(int fd);
/* Starts writing a file's dirty pages back without waiting (a hint; may do nothing). */
void fs_start_writeback(int fd);
/* Sets a file's permission bits (no-op where there are none). */
int fs_chmod(const char *path, int mode);
int fs_fchmod(int fd, int mode);
int fs_mkdir(const char *path, int mode);
/* Renames, replacing an existing file at to (atomically on POSIX; MoveFileEx on Windows). */
int fs_rename(const char *from, const char *to);
int fs_unlink(const char *path);
/* A second name for the same content. */
int fs_hard_link(const char *existing, const char *new_path);
/* Calls fn for each entry name of a folder except "." and ".."; stops at fn's first error. */
int fs_each_entry(const char *path, int (*fn)(void *ctx, const char *name), void *ctx);
/* Removes a file or a tree without following symbolic links; a missing path is fine. */
int fs_remove_tree(const char *path);
/* Flushes the file system holding path to stable storage. */
int fs_sync(const char *path);
/* Makes a directory's entries durable. */
int fs_sync_dir(const char *path);
/* Replaces (or creates) a symbolic link atomically: link_path -> target (POSIX only). */
int fs_symlink_replace(const char *target, const char *link_path);
/*
 * Takes an exclusive lock on path (made 0600 when missing, a final link refused) for as long
 * as *ret_fd stays open, and writes our PID into it. UV_EBUSY when another process holds it,
 * with its PID in *ret_holder_pid (0 when it cannot be read).
 */
int fs_lock_exclusive(const char *path, int *ret_fd, long *ret_holder_pid);
/*
 * 0 when path, which starts with the folder base, reaches its end from base without passing
 * through a symbolic link (or reparse point) in any component, the last one included; UV_ELOOP
 * when one is a link; UV_ENOENT when a component is missing (the ones before it are no
 * links). base itself may be reached through links. Linux asks openat2 with
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS where the kernel has it, else looks at each component.
 */
int fs_no_links_below(const char *base, const char *path);
/* Registers a rename of from to to for the next restart of the system (Windows:
 * MoveFileEx with MOVEFILE_DELAY_UNTIL_REBOOT, run in the order registered; POSIX: ENOTSUP). */
int fs_rename_at_restart(const char *from, const char *to);
/* The same for a file that replaces an existing one at the restart (MOVEFILE_REPLACE_EXISTING
 * too, which folders cannot take). */
int fs_replace_at_restart(const char *from, const char *to);
/* Reads a symbolic link into ret (NUL-terminated, at most size-1 bytes) (POSIX only). */
int fs_readlink(const char *path, char *ret, size_t size);

/* --- built on the primitives (fs.c) --- */

/* Creates path and its parents; an existing directory is fine, and so is a link that leads to
 * one (systemd's DynamicUser= makes /var/lib/NAME a link into /var/lib/private). */
int fs_mkdir_p(const char *path, int mode);
/* Writes all of data to fd, retrying short writes. */
int fs_write_all(int fd, const void *data, size_t len);
/* Writes a file through a temporary name, fsync and rename, so readers see old or new; then
 * syncs the folder, so that the new one is what survives a power cut. */
int fs_write_atomic(const char *path, const void *data, size_t len, int mode);
/* Appends the whole file to ret, failing with GPUPV_ELIMIT when it is larger than max. */
int fs_read_file(const char *path, size_t max, struct buf *ret);
/* Copies a regular file's content to a new file dst created with mode. */
int fs_copy_file(const char *src, const char *dst, int mode);
/* A folder's entry names, sorted bytewise; *ret is new (free with fs_names_free). */
int fs_list_dir(const char *path, char ***ret, size_t *ret_n);
void fs_names_free(char **names, size_t n);
/* 1 when path is a directory (not a link to one), else 0. */
int fs_is_dir(const char *path);
/* 1 when anything (even a dangling link) exists at path. */
int fs_exists(const char *path);

#endif
